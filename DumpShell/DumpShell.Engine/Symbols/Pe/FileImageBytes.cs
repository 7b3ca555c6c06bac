using Microsoft.Win32.SafeHandles;

namespace DumpShell.Symbols.Pe;

/// <summary>
/// An image FILE on disk (e.g. from a symbol store), read as the loader would map it: an RVA below the end of the
/// headers is the same offset in the file; an RVA in a section maps to PointerToRawData plus its offset into the
/// section; the part of a section past its raw data (VirtualSize &gt; SizeOfRawData, e.g. .bss) reads as zeros, as
/// the loader zero-fills it. Bytes the file does not have (gaps between sections, past the file's end) are not
/// there: a read stops at them.
/// </summary>
/// <remarks>
/// Keeps the file open (shared for reading) until disposed. Reads are positional and thread-safe. Nothing read
/// from the file is trusted: the headers go through <see cref="PeImage.TryParse"/>, and a section whose raw data
/// runs past the end of the file is only read as far as the file goes.
/// </remarks>
public sealed class FileImageBytes : IImageBytes, IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long _length;
    private PeSection[] _sections = [];
    private uint _headersEnd;
    private bool _mapped; // false while the headers are being parsed (file offset = RVA)

    private FileImageBytes(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
        _length = RandomAccess.GetLength(handle);
    }

    public string Path { get; }

    /// <summary>The image's headers, parsed over this object (so <c>Image.Bytes</c> is this).</summary>
    public PeImage Image { get; private set; } = null!;

    /// <summary>
    /// Opens <paramref name="path"/> and parses its headers. Null when the file cannot be opened or is not a PE
    /// image; never throws for a missing or unreadable file.
    /// </summary>
    public static FileImageBytes? Open(string path)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.RandomAccess);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
        FileImageBytes bytes;
        try
        {
            bytes = new FileImageBytes(handle, path);
        }
        catch (IOException)
        {
            handle.Dispose();
            return null;
        }
        try
        {
            // Parse the headers with file offset = RVA, then again through the section map so the image reads
            // through this object the way every IImageBytes does.
            var raw = PeImage.TryParse(bytes);
            if (raw is null)
            {
                bytes.Dispose();
                return null;
            }
            bytes._sections = raw.Sections.ToArray();
            uint headersEnd = raw.SizeOfHeaders;
            foreach (var s in bytes._sections)
                if (s.VirtualAddress != 0 && s.VirtualAddress < headersEnd) headersEnd = s.VirtualAddress;
            bytes._headersEnd = headersEnd;
            bytes._mapped = true;
            bytes.Image = PeImage.TryParse(bytes) ?? raw;
            return bytes;
        }
        catch (IOException)
        {
            bytes.Dispose();
            return null;
        }
    }

    public int Read(uint rva, Span<byte> buffer)
    {
        int done = 0;
        // Each pass reads one run (the headers, a section's raw data, or its zero fill); a pass that adds nothing ends it.
        while (done < buffer.Length)
        {
            ulong at = (ulong)rva + (ulong)done;
            if (at > uint.MaxValue) break;
            int n = ReadRun((uint)at, buffer[done..]);
            if (n <= 0) break;
            done += n;
        }
        return done;
    }

    private int ReadRun(uint rva, Span<byte> buffer)
    {
        if (!_mapped) return ReadFile(rva, buffer);
        if (rva < _headersEnd)
            return ReadFile(rva, buffer[..(int)Math.Min((uint)buffer.Length, _headersEnd - rva)]);
        foreach (var s in _sections)
        {
            if (!s.ContainsRva(rva)) continue;
            uint delta = rva - s.VirtualAddress;
            uint left = s.MappedSize - delta;
            var span = buffer[..(int)Math.Min((uint)buffer.Length, left)];
            if (delta < s.SizeOfRawData)
            {
                uint raw = Math.Min((uint)span.Length, s.SizeOfRawData - delta);
                return ReadFile((long)s.PointerToRawData + delta, span[..(int)raw]);
            }
            span.Clear(); // past the raw data: zero fill
            return span.Length;
        }
        return 0;
    }

    private int ReadFile(long offset, Span<byte> buffer)
    {
        if (offset >= _length || buffer.IsEmpty) return 0;
        if (buffer.Length > _length - offset) buffer = buffer[..(int)(_length - offset)];
        int done = 0;
        try
        {
            while (done < buffer.Length)
            {
                int n = RandomAccess.Read(_handle, buffer[done..], offset + done);
                if (n <= 0) break;
                done += n;
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        return done;
    }

    public void Dispose() => _handle.Dispose();
}
