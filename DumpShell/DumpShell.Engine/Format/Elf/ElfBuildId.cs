using System.Collections.Immutable;

namespace DumpShell.Format.Elf;

/// <summary>
/// The GNU build id (NT_GNU_BUILD_ID) of an ELF file on disk, to check that a local file (libcoreclr.so, the
/// DAC's runtime, a symbol file) is the very build a core file's module names.
/// </summary>
public static class ElfBuildId
{
    private const int MaxProgramHeaders = 256;
    private const int MaxNoteBytes = 64 * 1024;

    /// <summary>
    /// The build id of the 64-bit little-endian ELF file at <paramref name="path"/>, from its PT_NOTE segments;
    /// empty when the file is missing, unreadable, not such an ELF file, or has no build id. Never throws for
    /// the file's content.
    /// </summary>
    public static ImmutableArray<byte> FromFile(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> ehdr = stackalloc byte[ElfCoreFile.HeaderSize];
            if (stream.ReadAtLeast(ehdr, ehdr.Length, throwOnEndOfStream: false) < ehdr.Length) return [];
            var e = new ByteReader(ehdr);
            if (!ElfCoreFile.HasElfSignature(ehdr) || e.U8(4) != 2 || e.U8(5) != 1) return [];
            ulong phoff = e.U64(32);
            int phentsize = e.U16(54), phnum = e.U16(56);
            if (phentsize < 56 || phnum == 0 || phnum > MaxProgramHeaders || phoff >= (ulong)stream.Length) return [];
            var phdrs = new byte[phnum * phentsize];
            stream.Position = (long)phoff;
            if (stream.ReadAtLeast(phdrs, phdrs.Length, throwOnEndOfStream: false) < phdrs.Length) return [];
            for (int i = 0; i < phnum; i++)
            {
                var p = new ByteReader(phdrs.AsSpan(i * phentsize, 56));
                if (p.U32(0) != (uint)ElfSegmentType.Note) continue;
                ulong offset = p.U64(8), size = p.U64(32);
                if (size == 0 || size > MaxNoteBytes || offset >= (ulong)stream.Length) continue;
                var notes = new byte[size];
                stream.Position = (long)offset;
                int got = stream.ReadAtLeast(notes, notes.Length, throwOnEndOfStream: false);
                var id = ElfCoreFile.FindBuildId(notes.AsSpan(0, got), p.U64(48) == 8 ? 8 : 4);
                if (!id.IsEmpty) return id;
            }
            return [];
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary><see cref="FromFile"/> as lowercase hex; null when there is none.</summary>
    public static string? HexFromFile(string path)
    {
        var id = FromFile(path);
        return id.IsEmpty ? null : Convert.ToHexStringLower(id.AsSpan());
    }
}
