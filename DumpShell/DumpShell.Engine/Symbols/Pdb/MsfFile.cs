using System.Buffers.Binary;
using DumpShell.Format;

namespace DumpShell.Symbols.Pdb;

/// <summary>
/// The MSF 7.00 ("big MSF") container of a PDB: a superblock, fixed-size blocks, and a stream directory that
/// gives each stream's byte size and the blocks that hold it. Streams are read on demand, block by block.
/// </summary>
/// <remarks>
/// <para>Layout (LLVM "The MSF File Format", microsoft/pdb-rs docs/pdb/msf.md): the superblock at offset 0 is
/// the 32-byte magic, then BlockSize, FreeBlockMapBlock, NumBlocks, NumDirectoryBytes, an unused field, and
/// from offset 52 the block numbers of the "block map": blocks that list the blocks of the stream directory.
/// The directory is NumStreams, NumStreams sizes (0xFFFFFFFF = nil stream), then every stream's block numbers
/// concatenated in stream order (ceil(size / BlockSize) each).</para>
/// <para>Every value comes from the file and is checked before use: the block size must be a power of 2 in
/// 512..65536, the directory must fit in the file, no stream may claim more bytes than the file has, and the
/// directory must hold every block number its sizes imply. Those failures throw
/// <see cref="PdbFormatException"/> from the constructor. A block number is checked when a stream is read
/// (below NumBlocks, inside the file); a bad one throws <see cref="PdbFormatException"/> from the read. So no
/// allocation is larger than the file and every loop is bounded by the directory size. The free block map is
/// not read.</para>
/// </remarks>
public sealed class MsfFile : IDisposable
{
    /// <summary>Bytes of the superblock read up front: the fixed fields and the first block-map entry.</summary>
    public const int SuperBlockSize = 56;

    /// <summary>Offset in the superblock of the block-map block numbers (BlockMapAddr and, for big directories, the ones after it).</summary>
    public const int BlockMapOffset = 52;

    /// <summary>The stream size that marks a nil (deleted/absent) stream.</summary>
    public const uint NilStreamSize = 0xFFFF_FFFF;

    /// <summary>Largest stream directory accepted (a 64 GB PDB of 4 KB blocks needs 64 MB).</summary>
    public const int MaxDirectoryBytes = 64 << 20;

    /// <summary>"Microsoft C/C++ MSF 7.00\r\n" 1A 44 53 00 00 00.</summary>
    public static ReadOnlySpan<byte> Magic => "Microsoft C/C++ MSF 7.00\r\n\u001aDS\0\0\0"u8;

    private static ReadOnlySpan<byte> SmallMsfMagicPrefix => "Microsoft C/C++ program database 2.00\r\n"u8;

    private readonly IMsfSource _source;
    private readonly byte[] _directory;
    private readonly uint[] _streamSizes;
    private readonly int[] _blockListOffsets;
    private readonly List<string> _problems = new();

    /// <summary>The file the container was opened from, or null for an in-memory copy.</summary>
    public string? Path { get; }

    public long FileLength => _source.Length;

    public int BlockSize { get; }

    /// <summary>NumBlocks of the superblock: block numbers at or above it are invalid.</summary>
    public uint BlockCount { get; }

    public uint FreeBlockMapBlock { get; }

    public uint DirectoryByteCount { get; }

    public int StreamCount => _streamSizes.Length;

    /// <summary>Inconsistencies that did not stop the directory from being read (e.g. a file shorter than NumBlocks says).</summary>
    public IReadOnlyList<string> Problems => _problems;

    private MsfFile(IMsfSource source, string? path)
    {
        _source = source;
        Path = path;
        long length = source.Length;
        if (length < SuperBlockSize)
            throw Error($"The file is {length} bytes; an MSF 7.00 superblock needs {SuperBlockSize}.");

        Span<byte> header = stackalloc byte[SuperBlockSize];
        source.Read(0, header);
        if (!header[..Magic.Length].SequenceEqual(Magic))
        {
            if (header.StartsWith(SmallMsfMagicPrefix[..Math.Min(SmallMsfMagicPrefix.Length, header.Length)]))
                throw Error("This is a PDB 2.00 (small MSF) file; only MSF 7.00 PDBs are supported.");
            throw Error("Not an MSF 7.00 (PDB) file: it does not start with \"Microsoft C/C++ MSF 7.00\\r\\n\\x1aDS\\0\\0\\0\".");
        }

        uint blockSize = BinaryPrimitives.ReadUInt32LittleEndian(header[32..]);
        if (blockSize < 512 || blockSize > 65536 || (blockSize & (blockSize - 1)) != 0)
            throw Error($"Invalid MSF block size {blockSize}: it must be a power of 2 from 512 to 65536.");
        BlockSize = (int)blockSize;
        FreeBlockMapBlock = BinaryPrimitives.ReadUInt32LittleEndian(header[36..]);
        BlockCount = BinaryPrimitives.ReadUInt32LittleEndian(header[40..]);
        DirectoryByteCount = BinaryPrimitives.ReadUInt32LittleEndian(header[44..]);

        if ((long)BlockCount * BlockSize > length)
            _problems.Add($"The superblock describes {BlockCount} blocks of {BlockSize} bytes ({(long)BlockCount * BlockSize} bytes), " +
                          $"but the file has {length} bytes; streams in the missing blocks cannot be read.");

        if (DirectoryByteCount < 4 || DirectoryByteCount > length || DirectoryByteCount > MaxDirectoryBytes)
            throw Error($"Invalid stream directory size {DirectoryByteCount} bytes (the file has {length} bytes).");

        int directoryBytes = (int)DirectoryByteCount;
        int directoryBlocks = (directoryBytes + BlockSize - 1) / BlockSize;
        int numbersPerBlock = BlockSize / 4;
        int mapBlocks = (directoryBlocks + numbersPerBlock - 1) / numbersPerBlock;
        if (BlockMapOffset + 4L * mapBlocks > BlockSize)
            throw Error($"The {directoryBytes}-byte stream directory needs {mapBlocks} block-map blocks; the superblock has room for {(BlockSize - BlockMapOffset) / 4}.");

        var mapNumbers = new byte[4 * mapBlocks];
        if (BlockMapOffset + mapNumbers.Length > length)
            throw Error("The file ends inside the superblock's block-map numbers.");
        source.Read(BlockMapOffset, mapNumbers);

        // Block numbers of the directory, gathered from the block-map blocks.
        var directoryBlockNumbers = new byte[4 * directoryBlocks];
        for (int m = 0; m < mapBlocks; m++)
        {
            uint mapBlock = BinaryPrimitives.ReadUInt32LittleEndian(mapNumbers.AsSpan(4 * m));
            int count = Math.Min(numbersPerBlock, directoryBlocks - m * numbersPerBlock);
            long offset = BlockFileOffset(mapBlock, 4 * count, "The stream directory's block map");
            source.Read(offset, directoryBlockNumbers.AsSpan(4 * m * numbersPerBlock, 4 * count));
        }

        _directory = new byte[directoryBytes];
        for (int d = 0; d < directoryBlocks; d++)
        {
            uint block = BinaryPrimitives.ReadUInt32LittleEndian(directoryBlockNumbers.AsSpan(4 * d));
            int count = Math.Min(BlockSize, directoryBytes - d * BlockSize);
            long offset = BlockFileOffset(block, count, "The stream directory");
            source.Read(offset, _directory.AsSpan(d * BlockSize, count));
        }

        uint streamCount = BinaryPrimitives.ReadUInt32LittleEndian(_directory);
        if (streamCount > (uint)(directoryBytes - 4) / 4)
            throw Error($"The stream directory lists {streamCount} streams but its {directoryBytes} bytes hold at most {(directoryBytes - 4) / 4} sizes.");

        _streamSizes = new uint[streamCount];
        _blockListOffsets = new int[streamCount];
        long position = 4 + 4L * streamCount;
        for (int i = 0; i < streamCount; i++)
        {
            uint size = BinaryPrimitives.ReadUInt32LittleEndian(_directory.AsSpan(4 + 4 * i));
            _streamSizes[i] = size;
            _blockListOffsets[i] = (int)position;
            if (size == NilStreamSize) continue;
            if (size > length)
                throw Error($"Stream {i} claims {size} bytes, more than the whole file ({length} bytes).");
            long blocks = ((long)size + BlockSize - 1) / BlockSize;
            if (position + 4 * blocks > directoryBytes)
                throw Error($"The stream directory ({directoryBytes} bytes) ends inside the block list of stream {i} ({size} bytes in {blocks} blocks).");
            position += 4 * blocks;
        }
    }

    /// <summary>Maps the file (only the pages read are loaded).</summary>
    /// <exception cref="PdbFormatException">Not an MSF 7.00 file, or its superblock or directory is unusable.</exception>
    public static MsfFile Open(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < SuperBlockSize)
            throw new PdbFormatException($"The file is {length} bytes; an MSF 7.00 superblock needs {SuperBlockSize}.", path);
        var mapped = MappedFile.Open(path);
        try
        {
            return new MsfFile(new MappedSource(mapped), path);
        }
        catch
        {
            mapped.Dispose();
            throw;
        }
    }

    /// <summary>Reads an MSF file held in memory (the caller keeps the bytes unchanged while the instance is used).</summary>
    public static MsfFile FromMemory(ReadOnlyMemory<byte> bytes) => new(new MemorySource(bytes), null);

    /// <summary>True when the directory has a non-nil stream with this index.</summary>
    public bool HasStream(int index) => (uint)index < (uint)_streamSizes.Length && _streamSizes[index] != NilStreamSize;

    /// <summary>The stream's size in bytes; 0 for a nil stream or an index the directory does not have.</summary>
    public uint GetStreamSize(int index) => HasStream(index) ? _streamSizes[index] : 0;

    /// <summary>The whole stream as one array; empty for a nil stream or an index the directory does not have.</summary>
    /// <exception cref="PdbFormatException">A block of the stream is not in the file.</exception>
    public byte[] ReadStream(int index)
    {
        uint size = GetStreamSize(index);
        if (size == 0) return [];
        if (size > Array.MaxLength)
            throw Error($"Stream {index} is {size} bytes, too large to read as one array.");
        var data = new byte[size];
        ReadStream(index, 0, data);
        return data;
    }

    /// <summary>
    /// Copies stream bytes from <paramref name="offset"/> into <paramref name="destination"/>, clipped to the
    /// stream's end; returns the count copied (0 for an offset at or past the end, a nil or missing stream).
    /// </summary>
    /// <exception cref="PdbFormatException">A block of the range is not in the file.</exception>
    public int ReadStream(int index, long offset, Span<byte> destination)
    {
        uint size = GetStreamSize(index);
        if (offset < 0 || offset >= size || destination.IsEmpty) return 0;
        int total = (int)Math.Min(destination.Length, size - offset);
        int done = 0;
        while (done < total)
        {
            long position = offset + done;
            int blockInStream = (int)(position / BlockSize);
            int within = (int)(position % BlockSize);
            int count = Math.Min(BlockSize - within, total - done);
            uint block = BinaryPrimitives.ReadUInt32LittleEndian(_directory.AsSpan(_blockListOffsets[index] + 4 * blockInStream));
            long fileOffset = BlockFileOffset(block, within + count, $"Stream {index}");
            _source.Read(fileOffset + within, destination.Slice(done, count));
            done += count;
        }
        return total;
    }

    /// <summary>The block numbers that hold the stream, in order (empty for nil or missing streams).</summary>
    public uint[] GetStreamBlocks(int index)
    {
        uint size = GetStreamSize(index);
        int blocks = (int)(((long)size + BlockSize - 1) / BlockSize);
        var result = new uint[blocks];
        for (int b = 0; b < blocks; b++)
            result[b] = BinaryPrimitives.ReadUInt32LittleEndian(_directory.AsSpan(_blockListOffsets[index] + 4 * b));
        return result;
    }

    private long BlockFileOffset(uint block, int bytesNeeded, string what)
    {
        if (block >= BlockCount)
            throw Error($"{what} uses block {block}, but the superblock says the file has {BlockCount} blocks.");
        long offset = (long)block * BlockSize;
        if (offset + bytesNeeded > _source.Length)
            throw Error($"{what} uses block {block} (file offset 0x{offset:X}), past the end of the {_source.Length}-byte file; the file is truncated.");
        return offset;
    }

    private PdbFormatException Error(string message) => new(message, Path);

    public void Dispose() => _source.Dispose();

    private interface IMsfSource : IDisposable
    {
        long Length { get; }

        /// <summary>Copies exactly destination.Length bytes; the caller has checked the range is in the file.</summary>
        void Read(long offset, Span<byte> destination);
    }

    private sealed class MappedSource(MappedFile file) : IMsfSource
    {
        public long Length => file.Length;

        public void Read(long offset, Span<byte> destination)
        {
            var span = file.Slice(offset, destination.Length);
            if (span.Length != destination.Length)
                throw new PdbFormatException($"Could not read {destination.Length} bytes at 0x{offset:X}.", file.Path);
            span.CopyTo(destination);
        }

        public void Dispose() => file.Dispose();
    }

    private sealed class MemorySource(ReadOnlyMemory<byte> bytes) : IMsfSource
    {
        public long Length => bytes.Length;

        public void Read(long offset, Span<byte> destination) =>
            bytes.Span.Slice(checked((int)offset), destination.Length).CopyTo(destination);

        public void Dispose() { }
    }
}
