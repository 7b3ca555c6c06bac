using System.Collections.Concurrent;
using System.Text;

namespace DumpShell.Format.Minidump;

/// <summary>One entry of the stream directory (MINIDUMP_DIRECTORY).</summary>
public readonly record struct StreamEntry(int Index, uint Type, uint DataSize, uint Rva)
{
    public string Name => MinidumpStreamTypeNames.NameOf(Type);
}

/// <summary>
/// An opened minidump: the header and stream directory are read at open, every stream on first use.
/// Problems found while reading are collected in <see cref="Problems"/>; what can still be read is returned.
/// </summary>
public sealed partial class MinidumpFile : IDisposable
{
    public const uint Signature = 0x504D444D; // "MDMP"
    public const ushort FormatVersion = 0xA793;
    private const int HeaderSize = 32;
    private const int DirectoryEntrySize = 12;

    /// <summary>No string in a dump we accept is longer; a bigger length is corruption, not data.</summary>
    private const uint MaxStringBytes = 64 * 1024;

    private readonly ConcurrentDictionary<DumpProblem, byte> _problems = new();
    private readonly StreamEntry[] _directory;

    public MappedFile File { get; }
    public string Path => File.Path;
    public ushort Version { get; }
    public ushort ImplementationVersion { get; }
    public uint DeclaredStreamCount { get; }
    public uint CheckSum { get; }
    /// <summary>MINIDUMP_HEADER.TimeDateStamp: when the dump was written, seconds since 1970 (UTC).</summary>
    public uint TimeDateStamp { get; }
    /// <summary>MINIDUMP_TYPE flags the writer was asked for.</summary>
    public ulong Flags { get; }
    public IReadOnlyList<StreamEntry> Directory => _directory;

    /// <summary>Problems seen so far, in no particular order; reading more of the file can add to them.</summary>
    public IReadOnlyCollection<DumpProblem> Problems => _problems.Keys.ToArray();

    internal void Report(string errorId, string message, MinidumpStreamType? stream) =>
        _problems.TryAdd(new DumpProblem(errorId, message, (uint?)stream), 0);

    private MinidumpFile(MappedFile file, ByteReader header)
    {
        File = file;
        Version = header.U16(4);
        ImplementationVersion = header.U16(6);
        DeclaredStreamCount = header.U32(8);
        uint directoryRva = header.U32(12);
        CheckSum = header.U32(16);
        TimeDateStamp = header.U32(20);
        Flags = header.U64(24);
        _directory = ReadDirectory(directoryRva);
    }

    /// <summary>Opens and maps <paramref name="path"/>; throws <see cref="DumpFormatException"/> when it is no minidump.</summary>
    public static MinidumpFile Open(string path)
    {
        if (System.IO.Directory.Exists(path))
            throw new DumpFormatException("PathIsDirectory", $"'{path}' is a directory, not a dump file.", path);
        if (!System.IO.File.Exists(path))
            throw new DumpFormatException("DumpFileNotFound", $"Cannot find the dump file '{path}'.", path);
        long length = new FileInfo(path).Length;
        if (length < HeaderSize)
            throw new DumpFormatException("TruncatedHeader",
                $"'{path}' is {length} bytes long: too short for a minidump header ({HeaderSize} bytes).", path);

        var file = MappedFile.Open(path);
        try
        {
            var header = new ByteReader(file.Slice(0, HeaderSize));
            if (header.U32(0) != Signature)
                throw new DumpFormatException("NotAMinidump",
                    $"'{path}' is not a minidump: it does not start with the signature 'MDMP'.", path);
            return new MinidumpFile(file, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private StreamEntry[] ReadDirectory(uint rva)
    {
        long fits = File.Contains(rva, 0) ? (File.Length - rva) / DirectoryEntrySize : 0;
        long count = Math.Min(DeclaredStreamCount, fits);
        if (count < DeclaredStreamCount)
            Report("StreamDirectoryTruncated",
                $"The header declares {DeclaredStreamCount} streams at 0x{rva:X}, but the file holds only {count} directory entries there.",
                null);

        var entries = new List<StreamEntry>((int)count);
        var bytes = new ByteReader(File.Slice(rva, count * DirectoryEntrySize));
        for (int i = 0; i < count; i++)
        {
            int at = i * DirectoryEntrySize;
            var entry = new StreamEntry(i, bytes.U32(at), bytes.U32(at + 4), bytes.U32(at + 8));
            if (entry.Type != (uint)MinidumpStreamType.Unused && !File.Contains(entry.Rva, entry.DataSize))
                Report("StreamOutOfRange",
                    $"Stream {entry.Name} claims {entry.DataSize} bytes at 0x{entry.Rva:X}, past the end of the {File.Length}-byte file.",
                    (MinidumpStreamType)entry.Type);
            entries.Add(entry);
        }
        return entries.ToArray();
    }

    /// <summary>The first directory entry of this type, if any (a writer may repeat a type; the first wins, as in dbghelp).</summary>
    public StreamEntry? FindStream(MinidumpStreamType type)
    {
        foreach (var e in _directory)
            if (e.Type == (uint)type) return e;
        return null;
    }

    /// <summary>The stream's bytes, clipped to the file; empty when the stream is absent or lies wholly outside it.</summary>
    public ReadOnlySpan<byte> StreamBytes(StreamEntry entry) => File.Slice(entry.Rva, entry.DataSize);

    public bool TryGetStream(MinidumpStreamType type, out ReadOnlySpan<byte> data)
    {
        var entry = FindStream(type);
        data = entry is { } e ? StreamBytes(e) : default;
        return entry is not null;
    }

    /// <summary>Reads a MINIDUMP_STRING (ULONG byte length, UTF-16LE). Null when the RVA is 0 or the string is unreadable.</summary>
    public string? ReadString(ulong rva)
    {
        if (rva == 0 || !File.Contains((long)Math.Min(rva, long.MaxValue), 4)) return null;
        uint byteLength = new ByteReader(File.Slice((long)rva, 4)).U32(0);
        if (byteLength > MaxStringBytes || !File.Contains((long)rva + 4, byteLength)) return null;
        return Encoding.Unicode.GetString(File.Slice((long)rva + 4, byteLength & ~1u));
    }

    /// <summary>Bytes at a MINIDUMP_LOCATION_DESCRIPTOR, clipped to the file.</summary>
    public ReadOnlySpan<byte> ReadLocation(uint dataSize, uint rva) => File.Slice(rva, dataSize);

    public void Dispose() => File.Dispose();
}
