using System.Text;

namespace DumpShell.Format.Elf;

public sealed partial class ElfCoreFile
{
    /// <summary>More notes than this is corruption (a real core has a few per thread), not data.</summary>
    internal const int MaxNotes = 1_000_000;
    /// <summary>Longest owner name read; real owners are "CORE", "LINUX", "GNU".</summary>
    private const int MaxOwnerLength = 64;
    private const int PrPsInfoSize = 136;
    private const int SigInfoMinimumSize = 24;
    private const int FileNoteEntrySize = 24;

    private IReadOnlyList<ElfNote> _notes = [];
    private bool _notesRead;
    private IReadOnlyList<ElfThread> _threads = [];
    private bool _threadsRead;
    private ElfProcessInfo? _processInfo;
    private bool _processInfoRead;
    private IReadOnlyList<ElfAuxvEntry> _auxv = [];
    private bool _auxvRead;
    private IReadOnlyList<ElfFileMapping> _mappings = [];
    private bool _mappingsRead;
    private ulong _mappingPageSize;
    private ElfSignalInfo? _signalInfo;
    private bool _signalInfoRead;

    /// <summary>Every note of every PT_NOTE segment, in file order.</summary>
    public IReadOnlyList<ElfNote> Notes => Once(ref _notes, ref _notesRead, ReadNotes);

    /// <summary>The descriptor bytes of a note (clipped to its segment and the file).</summary>
    public ReadOnlySpan<byte> NoteData(ElfNote note) => File.Slice(note.DataOffset, note.DataSize);

    /// <summary>The first "CORE" note of a type, if any.</summary>
    public ElfNote? FindNote(uint type, string owner = "CORE")
    {
        foreach (var n in Notes)
            if (n.Type == type && n.Owner == owner) return n;
        return null;
    }

    /// <summary>The threads, one per NT_PRSTATUS note, in note order.</summary>
    public IReadOnlyList<ElfThread> Threads => Once(ref _threads, ref _threadsRead, ReadThreads);

    /// <summary>
    /// The thread the core was written for: the first thread whose pr_cursig is set. createdump sets it on the
    /// crashing thread only; the kernel sets it on every thread and writes the dumping thread first. Null when no
    /// thread has a signal (a dump taken on request).
    /// </summary>
    public ElfThread? SignaledThread => Threads.FirstOrDefault(t => t.Signal != 0);

    /// <summary>NT_PRPSINFO: process id, parent, name and arguments; null when the core has none.</summary>
    public ElfProcessInfo? ProcessInfo => Once(ref _processInfo, ref _processInfoRead, ReadProcessInfo);

    /// <summary>The process id: NT_PRPSINFO's pr_pid; null without that note.</summary>
    public int? ProcessId => ProcessInfo?.ProcessId;

    /// <summary>NT_AUXV: the auxiliary vector up to (not including) AT_NULL.</summary>
    public IReadOnlyList<ElfAuxvEntry> Auxv => Once(ref _auxv, ref _auxvRead, ReadAuxv);

    /// <summary>The first auxiliary vector value of a type (e.g. AT_PAGESZ, AT_ENTRY), or null.</summary>
    public ulong? AuxvValue(ElfAuxvType type)
    {
        foreach (var e in Auxv)
            if (e.Type == (ulong)type) return e.Value;
        return null;
    }

    /// <summary>NT_FILE: every file-backed mapping with its path, in note order.</summary>
    public IReadOnlyList<ElfFileMapping> FileMappings => Once(ref _mappings, ref _mappingsRead, ReadFileMappings);

    /// <summary>NT_FILE's page size (the unit of its file offsets); 0 without NT_FILE.</summary>
    public ulong FileMappingPageSize
    {
        get
        {
            _ = FileMappings;
            return _mappingPageSize;
        }
    }

    /// <summary>NT_SIGINFO: the signal the core was written for (the first such note); null when absent.</summary>
    public ElfSignalInfo? SignalInfo => Once(ref _signalInfo, ref _signalInfoRead, ReadSignalInfo);

    private IReadOnlyList<ElfNote> ReadNotes()
    {
        var notes = new List<ElfNote>();
        foreach (var segment in _segments)
        {
            if (segment.Type != ElfSegmentType.Note || segment.FileSize == 0) continue;
            long start = Clamp(segment.FileOffset);
            long declared = Clamp(segment.FileSize);
            if (!File.Contains(start, declared))
                Report("NotesTruncated",
                    $"PT_NOTE segment {segment.Index} claims {segment.FileSize} bytes at 0x{segment.FileOffset:X}, past the end of the {File.Length}-byte file; reading the notes that are there.");
            long available = start < File.Length ? Math.Min(declared, File.Length - start) : 0;
            if (!ReadNoteSegment(notes, start, available, segment.Alignment == 8 ? 8 : 4)) break;
        }
        return notes.ToArray();
    }

    /// <summary>Reads the notes of one segment; false when the note limit was hit.</summary>
    private bool ReadNoteSegment(List<ElfNote> notes, long start, long length, int align)
    {
        long at = 0;
        while (at < length)
        {
            if (length - at < 12)
            {
                // Padding at the end of a segment is zeros; anything else is a header cut short.
                if (!AllZero(start + at, length - at))
                    Report("NoteTruncated", $"A note header at 0x{start + at:X} is cut short by the end of its segment.");
                return true;
            }
            if (notes.Count >= MaxNotes)
            {
                Report("TooManyNotes", $"The core file holds more than {MaxNotes} notes; the rest are not read.");
                return false;
            }
            var h = new ByteReader(File.Slice(start + at, 12));
            uint nameSize = h.U32(0), descSize = h.U32(4), type = h.U32(8);
            long nameAt = at + 12;
            long descAt = nameAt + Align(nameSize, align);
            long next = descAt + Align(descSize, align);
            string owner = ReadOwner(start + nameAt, (int)Math.Min(Math.Min(nameSize, MaxOwnerLength), Math.Max(0, length - nameAt)));
            if (descAt > length || descAt + descSize > length)
            {
                long inside = Math.Max(0, Math.Min(descSize, length - descAt));
                Report("NoteTruncated",
                    $"Note {ElfNoteTypes.NameOf(owner, type)} at 0x{start + at:X} declares a {nameSize}-byte name and {descSize}-byte data, past the end of its segment; {inside} bytes of its data are read.",
                    type);
                if (descAt < length)
                    notes.Add(new ElfNote(notes.Count, owner, type, start + descAt, (int)inside, descSize));
                return true;
            }
            notes.Add(new ElfNote(notes.Count, owner, type, start + descAt, (int)descSize, descSize));
            at = next;
        }
        return true;
    }

    private static long Align(uint size, int align) => ((long)size + align - 1) & ~(long)(align - 1);

    private bool AllZero(long offset, long length)
    {
        foreach (byte b in File.Slice(offset, length))
            if (b != 0) return false;
        return true;
    }

    private string ReadOwner(long offset, int length)
    {
        if (length <= 0) return "";
        var bytes = File.Slice(offset, length);
        int nul = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(nul >= 0 ? bytes[..nul] : bytes);
    }

    private IReadOnlyList<ElfThread> ReadThreads()
    {
        var notes = Notes;
        var threads = new List<ElfThread>();
        int expected = ElfThread.ExpectedSize(Machine);
        int truncated = 0;
        for (int i = 0; i < notes.Count; i++)
        {
            var n = notes[i];
            if (n.Type != ElfNoteTypes.PrStatus || n.Owner != "CORE") continue;
            int end = i + 1;
            while (end < notes.Count && !(notes[end].Type == ElfNoteTypes.PrStatus && notes[end].Owner == "CORE")) end++;
            var following = new ElfNote[end - i - 1];
            for (int k = 0; k < following.Length; k++) following[k] = notes[i + 1 + k];
            var data = NoteData(n);
            if (IsMachineSupported && data.Length < expected - 8) truncated++;
            threads.Add(new ElfThread(threads.Count, n, new ByteReader(data), Machine, following));
        }
        if (truncated > 0)
            Report("ThreadStatusTruncated",
                $"{truncated} NT_PRSTATUS notes are shorter than the {expected} bytes of a {Machine} elf_prstatus; their missing registers are absent.",
                ElfNoteTypes.PrStatus);
        if (threads.Count == 0 && _segments.Any(s => s.Type == ElfSegmentType.Note))
            Report("NoThreads", "The core file has no NT_PRSTATUS note: no threads or registers.", ElfNoteTypes.PrStatus);
        return threads.ToArray();
    }

    private ElfProcessInfo? ReadProcessInfo()
    {
        if (FindNote(ElfNoteTypes.PrPsInfo) is not { } note) return null;
        var r = new ByteReader(NoteData(note));
        if (r.Length < PrPsInfoSize)
            Report("ProcessInfoTruncated",
                $"NT_PRPSINFO holds {r.Length} bytes; struct elf_prpsinfo is {PrPsInfoSize}. Missing fields read as zero or empty.",
                ElfNoteTypes.PrPsInfo);
        // struct elf_prpsinfo (64-bit): pr_state @0, pr_sname @1, pr_zomb @2, pr_nice @3, pr_flag @8, pr_uid @16,
        // pr_gid @20, pr_pid @24, pr_ppid @28, pr_pgrp @32, pr_sid @36, pr_fname[16] @40, pr_psargs[80] @56.
        return new ElfProcessInfo(
            State: (char)r.U8(1),
            Zombie: r.U8(2),
            Nice: (sbyte)r.U8(3),
            Flags: r.U64(8),
            UserId: r.U32(16),
            GroupId: r.U32(20),
            ProcessId: r.I32(24),
            ParentProcessId: r.I32(28),
            ProcessGroupId: r.I32(32),
            SessionId: r.I32(36),
            FileName: CString(r.Bytes(40, 16)),
            Arguments: CString(r.Bytes(56, 80)).TrimEnd());
    }

    private static string CString(ReadOnlySpan<byte> bytes)
    {
        int nul = bytes.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? bytes[..nul] : bytes);
    }

    private IReadOnlyList<ElfAuxvEntry> ReadAuxv()
    {
        if (FindNote(ElfNoteTypes.Auxv) is not { } note) return [];
        var r = new ByteReader(NoteData(note));
        var entries = new List<ElfAuxvEntry>();
        bool ended = false;
        for (int at = 0; at + 16 <= r.Length; at += 16)
        {
            ulong type = r.U64(at);
            if (type == (ulong)ElfAuxvType.Null)
            {
                ended = true;
                break;
            }
            entries.Add(new ElfAuxvEntry(type, r.U64(at + 8)));
        }
        if (!ended)
            Report("AuxvTruncated", $"NT_AUXV ({r.Length} bytes) ends without its AT_NULL entry; reading the {entries.Count} entries there.",
                ElfNoteTypes.Auxv);
        return entries.ToArray();
    }

    private IReadOnlyList<ElfFileMapping> ReadFileMappings()
    {
        if (FindNote(ElfNoteTypes.File) is not { } note) return [];
        var data = NoteData(note);
        var r = new ByteReader(data);
        if (r.Length < 16)
        {
            Report("FileNoteTruncated", $"NT_FILE holds {r.Length} bytes, too few for its count and page size.", ElfNoteTypes.File);
            return [];
        }
        // long count; long page_size; {long start, end, file_ofs}[count]; then count NUL-terminated paths.
        ulong declared = r.U64(0);
        ulong pageSize = r.U64(8);
        if (pageSize == 0 || (pageSize & (pageSize - 1)) != 0 || pageSize > 1UL << 30)
        {
            Report("FileNotePageSizeInvalid", $"NT_FILE gives a page size of {pageSize}; mapped files' offsets are left 0.", ElfNoteTypes.File);
            pageSize = 0;
        }
        _mappingPageSize = pageSize;
        long fits = (r.Length - 16) / FileNoteEntrySize;
        int count = (int)Math.Min(declared, (ulong)fits);
        if ((ulong)count < declared)
            Report("FileNoteTruncated",
                $"NT_FILE declares {declared} mapped files, but its {r.Length} bytes hold only {count} entries; reading those.",
                ElfNoteTypes.File);

        int pathAt = 16 + count * FileNoteEntrySize;
        var mappings = new List<ElfFileMapping>(count);
        int missingNames = 0, invalid = 0;
        for (int i = 0; i < count; i++)
        {
            int at = 16 + i * FileNoteEntrySize;
            ulong start = r.U64(at), end = r.U64(at + 8), pages = r.U64(at + 16);
            string path = "";
            if (pathAt < data.Length)
            {
                var rest = data[pathAt..];
                int nul = rest.IndexOf((byte)0);
                path = Encoding.UTF8.GetString(nul >= 0 ? rest[..nul] : rest);
                pathAt += nul >= 0 ? nul + 1 : rest.Length;
                if (nul < 0) missingNames++; // the last name runs into the end of the note
            }
            else
            {
                missingNames++;
            }
            if (end < start)
            {
                invalid++;
                continue;
            }
            ulong fileOffset = pageSize != 0 && pages <= ulong.MaxValue / pageSize ? pages * pageSize : 0;
            mappings.Add(new ElfFileMapping(start, end, pages, fileOffset, path));
        }
        if (missingNames > 0)
            Report("FileNoteTruncated", $"NT_FILE ends before the paths of {missingNames} of its {count} mapped files.", ElfNoteTypes.File);
        if (invalid > 0)
            Report("FileMappingInvalid", $"{invalid} NT_FILE entries end before they start; they are left out.", ElfNoteTypes.File);
        return mappings.ToArray();
    }

    private ElfSignalInfo? ReadSignalInfo()
    {
        if (FindNote(ElfNoteTypes.SigInfo) is not { } note) return null;
        var r = new ByteReader(NoteData(note));
        if (r.Length < SigInfoMinimumSize)
            Report("SigInfoTruncated", $"NT_SIGINFO holds {r.Length} bytes; a siginfo_t is 128. Missing fields read as zero.",
                ElfNoteTypes.SigInfo);
        // siginfo_t: si_signo @0, si_errno @4, si_code @8, then the union at 16:
        // _kill {si_pid @16, si_uid @20}, _sigfault {si_addr @16}.
        int signal = r.I32(0), errno = r.I32(4), code = r.I32(8);
        bool fault = signal is 4 or 5 or 7 or 8 or 11 && code > 0; // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV from the CPU
        bool sent = code <= 0; // SI_USER (0), SI_TKILL (-6), SI_QUEUE (-1) ...
        return new ElfSignalInfo(signal, errno, code,
            fault ? r.U64(16) : null,
            sent ? r.I32(16) : null,
            sent ? r.U32(20) : null);
    }
}
