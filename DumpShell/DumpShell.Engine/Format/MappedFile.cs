using System.IO.MemoryMappedFiles;

namespace DumpShell.Format;

/// <summary>
/// A read-only, shared-read memory mapping of a whole file. Only the pages a caller touches are read
/// from disk, so opening a multi-gigabyte dump costs the same as opening a small one.
/// </summary>
public sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private byte* _base;

    public string Path { get; }
    public long Length { get; }

    private MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view)
    {
        Path = path;
        Length = length;
        _map = map;
        _view = view;
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _base = p + _view.PointerOffset;
    }

    /// <summary>Maps <paramref name="path"/>; the caller has checked it is a non-empty regular file.</summary>
    public static MappedFile Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        try
        {
            long length = stream.Length;
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read,
                HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new MappedFile(path, length, map, view);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The bytes at [offset, offset+length), clipped to the end of the file. An offset past the end
    /// gives an empty span; callers compare the length they got with the length they asked for.
    /// </summary>
    public ReadOnlySpan<byte> Slice(long offset, long length)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        if (offset < 0 || length <= 0 || offset >= Length) return default;
        long available = Math.Min(length, Length - offset);
        return new ReadOnlySpan<byte>(_base + offset, (int)Math.Min(available, int.MaxValue));
    }

    /// <summary>True when the whole range lies inside the file.</summary>
    public bool Contains(long offset, long length) =>
        offset >= 0 && length >= 0 && offset <= Length && length <= Length - offset;

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
