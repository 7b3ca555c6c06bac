using System.Buffers.Binary;
using DumpShell.Symbols.Pe;
using DumpShell.Tests.Synth;
using SynthArch = DumpShell.Tests.Synth.ProcessorArchitecture;

namespace DumpShell.Tests.Engine;

/// <summary>
/// A tiny PE32+ (or PE32) image for stack-walk tests, laid out as the loader maps it: headers, .text (code the
/// test writes), .xdata (UNWIND_INFO records the test assembles), .pdata (RUNTIME_FUNCTIONs, sorted when built),
/// .data. Written from the PE and x64 unwind documentation, independently of the engine's readers.
/// </summary>
internal sealed class SynthImage
{
    public const uint Size = 0x5000;
    public const uint Text = 0x1000, XData = 0x2000, PData = 0x3000, Data = 0x4000;
    public const uint TimeDateStamp = 0x5EED1234;

    private readonly byte[] _image = new byte[Size];
    private readonly List<(uint Begin, uint End, uint Unwind)> _functions = [];
    private uint _xdataNext = XData;

    public SynthImage(ulong imageBase, bool pe64 = true)
    {
        Base = imageBase;
        Pe64 = pe64;
    }

    public ulong Base { get; }
    public bool Pe64 { get; }
    /// <summary>Write an exception directory (.pdata) into the headers.</summary>
    public bool WithExceptionDirectory { get; set; } = true;
    /// <summary>Export directory (RVA, size), when the test wrote one.</summary>
    public (uint Rva, uint Size)? ExportDirectory { get; set; }

    public ulong Va(uint rva) => Base + rva;

    public byte[] Bytes => _image;

    public void Code(uint rva, params byte[] bytes) => bytes.CopyTo(_image, (int)rva);

    public void U32(uint rva, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_image.AsSpan((int)rva), value);

    /// <summary>An E8 rel32 call at <paramref name="rva"/> to <paramref name="target"/>; returns the return address's RVA.</summary>
    public uint CallRel32(uint rva, uint target)
    {
        _image[rva] = 0xE8;
        BinaryPrimitives.WriteInt32LittleEndian(_image.AsSpan((int)rva + 1), (int)target - (int)(rva + 5));
        return rva + 5;
    }

    /// <summary>A UNWIND_CODE slot.</summary>
    public static ushort Op(byte codeOffset, UnwindOpCode op, int info = 0) => (ushort)(codeOffset | ((int)op | info << 4) << 8);

    /// <summary>Assembles an UNWIND_INFO in .xdata; returns its RVA.</summary>
    public uint Unwind(byte sizeOfProlog, ushort[] codes, byte frameRegister = 0, byte frameOffsetScaled = 0, byte version = 1,
        byte flags = 0, (uint Begin, uint End, uint Unwind)? chained = null, byte? countOverride = null)
    {
        uint at = _xdataNext;
        _image[at] = (byte)(version | flags << 3);
        _image[at + 1] = sizeOfProlog;
        _image[at + 2] = countOverride ?? (byte)codes.Length;
        _image[at + 3] = (byte)(frameRegister | frameOffsetScaled << 4);
        for (int i = 0; i < codes.Length; i++) BinaryPrimitives.WriteUInt16LittleEndian(_image.AsSpan((int)at + 4 + 2 * i), codes[i]);
        uint end = at + 4 + 2 * (uint)((codes.Length + 1) & ~1);
        if (chained is { } c)
        {
            U32(end, c.Begin);
            U32(end + 4, c.End);
            U32(end + 8, c.Unwind);
            end += 12;
        }
        _xdataNext = (end + 15) & ~15u;
        return at;
    }

    /// <summary>A bare RUNTIME_FUNCTION in .xdata (the target of an indirect .pdata entry); returns its RVA.</summary>
    public uint RuntimeFunctionInXData(uint begin, uint end, uint unwind)
    {
        uint at = _xdataNext;
        U32(at, begin);
        U32(at + 4, end);
        U32(at + 8, unwind);
        _xdataNext = (at + 12 + 15) & ~15u;
        return at;
    }

    public void Function(uint begin, uint end, uint unwindData) => _functions.Add((begin, end, unwindData));

    /// <summary>The image with headers and .pdata written.</summary>
    public byte[] Build()
    {
        var s = _image.AsSpan();
        s[..0x400].Clear();
        s[0] = (byte)'M';
        s[1] = (byte)'Z';
        BinaryPrimitives.WriteInt32LittleEndian(s[0x3C..], 0x80);
        s[0x80] = (byte)'P';
        s[0x81] = (byte)'E';
        int coff = 0x84;
        BinaryPrimitives.WriteUInt16LittleEndian(s[coff..], Pe64 ? (ushort)0x8664 : (ushort)0x14C);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(coff + 2)..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(coff + 4)..], TimeDateStamp);
        ushort optionalSize = Pe64 ? (ushort)240 : (ushort)224;
        BinaryPrimitives.WriteUInt16LittleEndian(s[(coff + 16)..], optionalSize);
        BinaryPrimitives.WriteUInt16LittleEndian(s[(coff + 18)..], 0x2022);
        int opt = coff + 20;
        BinaryPrimitives.WriteUInt16LittleEndian(s[opt..], Pe64 ? (ushort)0x20B : (ushort)0x10B);
        if (Pe64) BinaryPrimitives.WriteUInt64LittleEndian(s[(opt + 24)..], Base);
        else BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + 28)..], (uint)Base);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + 32)..], 0x1000);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + 36)..], 0x200);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + 56)..], Size);
        BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + 60)..], 0x400);
        int countAt = Pe64 ? 108 : 92, dirs = Pe64 ? 112 : 96;
        BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + countAt)..], 16);
        if (ExportDirectory is { } e)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + dirs)..], e.Rva);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + dirs + 4)..], e.Size);
        }
        if (WithExceptionDirectory && _functions.Count > 0)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + dirs + 3 * 8)..], PData);
            BinaryPrimitives.WriteUInt32LittleEndian(s[(opt + dirs + 3 * 8 + 4)..], (uint)_functions.Count * 12);
        }
        int sections = opt + optionalSize;
        (string Name, uint Va, uint Characteristics)[] table =
        [
            (".text", Text, 0x60000020), (".xdata", XData, 0x40000040), (".pdata", PData, 0x40000040), (".data", Data, 0xC0000040),
        ];
        for (int i = 0; i < table.Length; i++)
        {
            var h = s.Slice(sections + 40 * i, 40);
            System.Text.Encoding.ASCII.GetBytes(table[i].Name).CopyTo(h);
            BinaryPrimitives.WriteUInt32LittleEndian(h[8..], 0x1000);              // VirtualSize
            BinaryPrimitives.WriteUInt32LittleEndian(h[12..], table[i].Va);         // VirtualAddress
            BinaryPrimitives.WriteUInt32LittleEndian(h[16..], 0x1000);             // SizeOfRawData
            BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 0x400 + 0x1000 * (uint)i); // PointerToRawData (file layout)
            BinaryPrimitives.WriteUInt32LittleEndian(h[36..], table[i].Characteristics);
        }
        var sorted = _functions.OrderBy(f => f.Begin).ToArray();
        for (int i = 0; i < sorted.Length; i++)
        {
            U32(PData + 12 * (uint)i, sorted[i].Begin);
            U32(PData + 12 * (uint)i + 4, sorted[i].End);
            U32(PData + 12 * (uint)i + 8, sorted[i].Unwind);
        }
        return (byte[])_image.Clone();
    }

    /// <summary>The same image as a FILE: headers, then each 0x1000-byte section at its PointerToRawData (0x400 + 0x1000 * index).</summary>
    public byte[] BuildFile()
    {
        var mapped = Build();
        var file = new byte[0x400 + 4 * 0x1000];
        mapped.AsSpan(0, 0x400).CopyTo(file);
        for (int i = 0; i < 4; i++) mapped.AsSpan(0x1000 * (i + 1), 0x1000).CopyTo(file.AsSpan(0x400 + 0x1000 * i));
        return file;
    }
}

/// <summary>Stack memory for a synthetic thread: [Low, Low + Size), written by address.</summary>
internal sealed class SynthStack(ulong low, int size)
{
    public ulong Low { get; } = low;
    public ulong High => Low + (ulong)Bytes.Length;
    public byte[] Bytes { get; } = new byte[size];

    public void Put(ulong address, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(Bytes.AsSpan((int)(address - Low)), value);

    public void Put32(ulong address, uint value) =>
        BinaryPrimitives.WriteUInt32LittleEndian(Bytes.AsSpan((int)(address - Low)), value);
}

/// <summary>Builds one-thread dumps around a <see cref="SynthImage"/>.</summary>
internal static class SynthStackDump
{
    public const uint ThreadId = 0x1234;
    public const string ModuleName = "synth.dll";

    public static MinidumpBuilder Builder(SynthImage image, SynthStack stack, Section context, bool imageInMemory = true,
        IEnumerable<(ulong Address, byte[] Bytes)>? extraMemory = null, ExceptionSpec? exception = null, bool x86 = false)
    {
        var b = new MinidumpBuilder { TimeDateStamp = 0x60000000 };
        b.AddSystemInfo(new SystemInfoSpec { ProcessorArchitecture = x86 ? SynthArch.X86 : SynthArch.Amd64, PlatformId = WinConst.PlatformWin32Nt, CsdVersion = "" });
        var stackBlock = b.AddMemory(stack.Low, stack.Bytes);
        if (imageInMemory) b.AddMemory(image.Base, image.Build());
        foreach (var (address, bytes) in extraMemory ?? []) b.AddMemory(address, bytes);
        b.AddModuleList(new ModuleSpec { BaseOfImage = image.Base, SizeOfImage = SynthImage.Size, TimeDateStamp = SynthImage.TimeDateStamp, Name = @"C:\synth\" + ModuleName });
        b.AddThreadList(new ThreadSpec { ThreadId = ThreadId, Stack = stackBlock, Context = context });
        if (exception is not null) b.AddException(exception);
        b.AddMemoryListOfAllBlocks();
        return b;
    }

    public static Section Context(ulong rip, ulong rsp, ulong rbp, ulong rbx = 0) =>
        new Amd64Context { Rip = rip, Rsp = rsp, Rbp = rbp, Rbx = rbx }.ToSection();
}

/// <summary>Writes synthetic dumps into a fresh temporary folder and opens them; disposing closes them and deletes the folder.</summary>
internal sealed class StackWalkDumpFiles : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("dumpshell-stackwalk-");
    private readonly List<Dump> _open = [];
    private int _next;

    public Dump Open(MinidumpBuilder builder)
    {
        string path = Path.Combine(_folder.FullName, $"synth-{Interlocked.Increment(ref _next)}.dmp");
        builder.WriteTo(path);
        var dump = Dump.Open(path);
        lock (_open) _open.Add(dump);
        return dump;
    }

    public void Dispose()
    {
        lock (_open)
        {
            foreach (var d in _open) d.Dispose();
            _open.Clear();
        }
        try { _folder.Delete(recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
