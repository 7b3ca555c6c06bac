using DumpShell.Format.Minidump;

namespace DumpShell.Symbols.Pe;

/// <summary>
/// The bytes of a PE image as the loader maps it: addressed by RVA (offset from the image base), not by
/// file offset. A dump's memory is already laid out this way; an image file is not, and its implementation
/// maps an RVA to a file offset through the section table (see <see cref="PeImage.RvaToFileOffset"/>; the
/// headers, which is all <see cref="PeImage.TryParse"/> reads before it has the section table, sit at the
/// same offset in the file as in memory).
/// </summary>
public interface IImageBytes
{
    /// <summary>
    /// Copies the image's bytes at <paramref name="rva"/> into <paramref name="buffer"/> and returns how
    /// many were there, contiguously from the start: fewer than asked means the rest is not available
    /// (not captured, past the image, or past the end of the file). Never throws for any rva.
    /// </summary>
    int Read(uint rva, Span<byte> buffer);
}

/// <summary>An image as it lies in the memory of a dumped process: its base address and the dump's memory.</summary>
public sealed class DumpImageBytes : IImageBytes
{
    private readonly MemoryReader _memory;

    /// <param name="memory">The dump's memory.</param>
    /// <param name="baseAddress">Where the image is loaded.</param>
    /// <param name="size">
    /// The image's size as the module list records it: reads are clipped to [base, base+size). 0 means
    /// unknown, and reads are clipped only by what the dump holds.
    /// </param>
    public DumpImageBytes(MemoryReader memory, ulong baseAddress, uint size = 0)
    {
        _memory = memory;
        BaseAddress = baseAddress;
        Size = size;
    }

    public ulong BaseAddress { get; }
    public uint Size { get; }

    public int Read(uint rva, Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        if (Size != 0)
        {
            if (rva >= Size) return 0;
            if ((uint)buffer.Length > Size - rva) buffer = buffer[..(int)(Size - rva)];
        }
        if (BaseAddress > ulong.MaxValue - rva) return 0;
        ulong address = BaseAddress + rva;
        ulong room = ulong.MaxValue - address; // bytes above address, less one: never wrap to 0
        if ((ulong)buffer.Length > room) buffer = buffer[..(int)room];
        return _memory.Read(address, buffer);
    }
}
