namespace DumpShell.Symbols.Pe;

/// <summary>
/// RUNTIME_FUNCTION: one entry of the x64 exception directory (.pdata). All three fields are image RVAs.
/// </summary>
/// <param name="BeginAddress">The function's (or function fragment's) first byte.</param>
/// <param name="EndAddress">One past its last byte.</param>
/// <param name="UnwindData">
/// The RVA of its UNWIND_INFO; with bit 0 set, the RVA (less the bit) of another RUNTIME_FUNCTION whose unwind
/// data applies (an indirect entry).
/// </param>
public readonly record struct RuntimeFunction(uint BeginAddress, uint EndAddress, uint UnwindData)
{
    public const int Size = 12;

    public bool Contains(uint rva) => rva >= BeginAddress && rva < EndAddress;

    /// <summary>UnwindData names another RUNTIME_FUNCTION rather than an UNWIND_INFO.</summary>
    public bool IsIndirect => (UnwindData & 1) != 0;

    /// <summary>UnwindData without the indirect bit.</summary>
    public uint UnwindDataRva => UnwindData & ~1u;

    /// <summary>Reads one entry at <paramref name="rva"/>; null when the 12 bytes are not all there.</summary>
    public static RuntimeFunction? TryRead(IImageBytes bytes, uint rva)
    {
        Span<byte> b = stackalloc byte[Size];
        if (bytes.Read(rva, b) < Size) return null;
        return new RuntimeFunction(PeImage.U32(b, 0), PeImage.U32(b, 4), PeImage.U32(b, 8));
    }
}

/// <summary>
/// The x64 function table: the exception directory's RUNTIME_FUNCTION array, sorted by BeginAddress and
/// searched by RVA.
/// </summary>
/// <remarks>
/// The array is read in chunks up to what the directory says, <see cref="MaxEntries"/>, and what the bytes
/// hold; an unsorted table (hostile or damaged) is sorted, and entries with BeginAddress &gt;= EndAddress are
/// dropped, so a lookup is always a binary search. Nothing here throws on content.
/// </remarks>
public sealed class FunctionTable
{
    /// <summary>Entries read at most (48 MB of .pdata); the largest real images have a few hundred thousand.</summary>
    public const int MaxEntries = 1 << 22;
    private const int Chunk = 4096; // entries per read

    private readonly RuntimeFunction[] _entries;
    private readonly List<string> _problems;

    private FunctionTable(RuntimeFunction[] entries, List<string> problems)
    {
        _entries = entries;
        _problems = problems;
    }

    public int Count => _entries.Length;
    public RuntimeFunction this[int index] => _entries[index];
    public IReadOnlyList<RuntimeFunction> Entries => _entries;

    /// <summary>What did not match the format (a short read, an unsorted table, empty entries).</summary>
    public IReadOnlyList<string> Problems => _problems;

    /// <summary>
    /// Reads the exception directory of a PE32+ image. Null when the image is not PE32+, has no exception
    /// directory, or not one entry of it can be read.
    /// </summary>
    public static FunctionTable? TryRead(PeImage image)
    {
        if (!image.Is64Bit) return null;
        var dir = image.GetDirectory(PeDirectory.Exception);
        if (dir.IsEmpty) return null;
        var problems = new List<string>();
        uint declared = dir.Size / RuntimeFunction.Size;
        if (dir.Size % RuntimeFunction.Size != 0)
            problems.Add($"The exception directory's size {dir.Size} is not a multiple of {RuntimeFunction.Size}.");
        int wanted = (int)Math.Min(declared, (uint)MaxEntries);
        if (declared > MaxEntries) problems.Add($"The exception directory declares {declared} entries; the first {MaxEntries} are read.");

        var entries = new List<RuntimeFunction>(Math.Min(wanted, Chunk));
        var buffer = new byte[Chunk * RuntimeFunction.Size];
        while (entries.Count < wanted)
        {
            ulong at = dir.VirtualAddress + (ulong)entries.Count * RuntimeFunction.Size;
            if (at > uint.MaxValue) break;
            int n = Math.Min(Chunk, wanted - entries.Count);
            int got = image.Read((uint)at, buffer.AsSpan(0, n * RuntimeFunction.Size)) / RuntimeFunction.Size;
            for (int i = 0; i < got; i++)
            {
                var e = buffer.AsSpan(i * RuntimeFunction.Size);
                entries.Add(new RuntimeFunction(PeImage.U32(e, 0), PeImage.U32(e, 4), PeImage.U32(e, 8)));
            }
            if (got < n) break;
        }
        if (entries.Count < wanted) problems.Add($"Only {entries.Count} of {wanted} function table entries could be read.");
        if (entries.Count == 0) return null;
        return Build(entries, problems);
    }

    /// <summary>A table over given entries (e.g. a JIT's dynamic function table, or a test's).</summary>
    public static FunctionTable FromEntries(IEnumerable<RuntimeFunction> entries) => Build(entries.ToList(), []);

    private static FunctionTable Build(List<RuntimeFunction> entries, List<string> problems)
    {
        int empty = entries.RemoveAll(e => e.BeginAddress >= e.EndAddress);
        if (empty > 0) problems.Add($"{empty} function table entries are empty (BeginAddress >= EndAddress) and were dropped.");
        bool sorted = true;
        for (int i = 1; i < entries.Count && sorted; i++)
            sorted = entries[i - 1].BeginAddress <= entries[i].BeginAddress;
        var array = entries.ToArray();
        if (!sorted)
        {
            problems.Add("The function table is not sorted by BeginAddress; it was sorted.");
            Array.Sort(array, (a, b) => a.BeginAddress.CompareTo(b.BeginAddress));
        }
        return new FunctionTable(array, problems);
    }

    /// <summary>The entry whose [BeginAddress, EndAddress) holds <paramref name="rva"/>, if any.</summary>
    public RuntimeFunction? Find(uint rva)
    {
        int lo = 0, hi = _entries.Length - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (_entries[mid].BeginAddress <= rva) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        // Overlapping entries only occur in damaged tables; look back a few for one that covers the RVA.
        for (int i = found, tries = 0; i >= 0 && tries < 4; i--, tries++)
            if (_entries[i].Contains(rva)) return _entries[i];
        return null;
    }
}

/// <summary>UNWIND_CODE operation codes (the low nibble of the code's second byte).</summary>
public enum UnwindOpCode : byte
{
    /// <summary>push of a nonvolatile register (OpInfo = register); 1 slot.</summary>
    PushNonvol = 0,
    /// <summary>Stack allocation; OpInfo 0: size/8 in the next slot (2 slots); OpInfo 1: size in the next two (3 slots).</summary>
    AllocLarge = 1,
    /// <summary>Stack allocation of OpInfo*8+8 bytes; 1 slot.</summary>
    AllocSmall = 2,
    /// <summary>Frame register = RSP + FrameOffset*16; 1 slot.</summary>
    SetFpreg = 3,
    /// <summary>mov of a nonvolatile register to the frame at (next slot)*8; 2 slots.</summary>
    SaveNonvol = 4,
    /// <summary>mov of a nonvolatile register to the frame at the 32-bit offset in the next two slots; 3 slots.</summary>
    SaveNonvolFar = 5,
    /// <summary>
    /// Version 2: an epilog descriptor, 1 slot (the first is the header: CodeOffset = epilog size, OpInfo bit 0 =
    /// an epilog at the function's end; the others give an epilog's start as a 12-bit offset back from the
    /// function's end). Version 1: the historical UWOP_SAVE_XMM (2 slots).
    /// </summary>
    Epilog = 6,
    /// <summary>Version 1: the historical UWOP_SAVE_XMM_FAR (3 slots). Unused in version 2.</summary>
    SpareCode = 7,
    /// <summary>movdqa of a nonvolatile XMM register to the frame at (next slot)*16; 2 slots.</summary>
    SaveXmm128 = 8,
    /// <summary>As <see cref="SaveXmm128"/> with a 32-bit offset in the next two slots; 3 slots.</summary>
    SaveXmm128Far = 9,
    /// <summary>A hardware (interrupt/exception) frame: RIP, CS, EFLAGS, old RSP, SS, after an error code when OpInfo is 1; 1 slot.</summary>
    PushMachframe = 10,
}

/// <summary>One decoded unwind operation (its extra slots folded in).</summary>
/// <param name="CodeOffset">Offset in the prolog of the end of the instruction that performs the operation.</param>
/// <param name="Op">The operation.</param>
/// <param name="OpInfo">The raw 4-bit operation info (a register number for most operations).</param>
/// <param name="Value">
/// The operand in bytes: the allocation size (Alloc*), the frame offset of the saved register (Save*), the error-code
/// flag (PushMachframe), the epilog size (the v2 epilog header) or the epilog's offset back from the function's end
/// (other v2 epilog entries); 0 otherwise.
/// </param>
/// <param name="Slots">How many 16-bit slots of the code array the operation used.</param>
public readonly record struct UnwindCode(byte CodeOffset, UnwindOpCode Op, byte OpInfo, uint Value, byte Slots)
{
    /// <summary>The integer register (UNWIND_CODE numbering: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15).</summary>
    public int Register => OpInfo;
}

/// <summary>
/// UNWIND_INFO (x64 .xdata): how a function's prolog moved RSP and saved nonvolatile registers, with the chained
/// entry (UNW_FLAG_CHAININFO) or the handler RVA that follows the codes.
/// </summary>
public sealed class UnwindInfo
{
    public const byte FlagExceptionHandler = 0x1;
    public const byte FlagTerminationHandler = 0x2;
    public const byte FlagChainInfo = 0x4;
    private const int HeaderSize = 4;

    private UnwindInfo(uint rva, byte version, byte flags, byte sizeOfProlog, byte countOfCodes, byte frameRegister,
        byte frameOffsetScaled, UnwindCode[] codes, RuntimeFunction? chained, uint? handler, byte? epilogSize,
        bool epilogAtEnd, uint[] epilogOffsets, string? problem)
    {
        Rva = rva;
        Version = version;
        Flags = flags;
        SizeOfProlog = sizeOfProlog;
        CountOfCodes = countOfCodes;
        FrameRegister = frameRegister;
        FrameOffsetScaled = frameOffsetScaled;
        Codes = codes;
        Chained = chained;
        HandlerRva = handler;
        EpilogSize = epilogSize;
        EpilogAtEnd = epilogAtEnd;
        EpilogOffsetsFromEnd = epilogOffsets;
        Problem = problem;
    }

    /// <summary>Where the record is (RVA).</summary>
    public uint Rva { get; }
    /// <summary>1, or 2 for records with epilog descriptors.</summary>
    public byte Version { get; }
    public byte Flags { get; }
    public byte SizeOfProlog { get; }
    /// <summary>Slots of the code array, as the header says.</summary>
    public byte CountOfCodes { get; }
    /// <summary>The frame register (UNWIND_CODE numbering); 0 means none.</summary>
    public byte FrameRegister { get; }
    public byte FrameOffsetScaled { get; }
    /// <summary>The frame register's offset from RSP when it was set: FrameOffsetScaled * 16.</summary>
    public uint FrameOffset => FrameOffsetScaled * 16u;
    /// <summary>The decoded operations, in array order (the reverse of the prolog's order).</summary>
    public IReadOnlyList<UnwindCode> Codes { get; }
    public bool IsChained => (Flags & FlagChainInfo) != 0;
    /// <summary>The parent entry when <see cref="IsChained"/>; null otherwise or when it could not be read.</summary>
    public RuntimeFunction? Chained { get; }
    /// <summary>The language-specific handler's RVA (UNW_FLAG_EHANDLER/UHANDLER, not chained); null otherwise or unreadable.</summary>
    public uint? HandlerRva { get; }
    /// <summary>Version 2: the size of each epilog the record describes; null without epilog descriptors.</summary>
    public byte? EpilogSize { get; }
    /// <summary>Version 2: an epilog ends the function.</summary>
    public bool EpilogAtEnd { get; }
    /// <summary>Version 2: further epilogs, as offsets of their first byte back from the function's end.</summary>
    public IReadOnlyList<uint> EpilogOffsetsFromEnd { get; }
    /// <summary>Why the record is incomplete (codes cut short, an operation running past the array, the chained entry missing); null when whole.</summary>
    public string? Problem { get; }
    /// <summary>The record is whole: every operation decoded, and a chained entry present when flagged.</summary>
    public bool IsComplete => Problem is null;

    /// <summary>
    /// Reads the UNWIND_INFO at <paramref name="rva"/>. Null when its 4-byte header is not there or its version is
    /// neither 1 nor 2; otherwise the record with whatever could be decoded (<see cref="Problem"/> says what is
    /// missing). At most 255 codes are read (the count is a byte); never throws on content.
    /// </summary>
    public static UnwindInfo? TryRead(IImageBytes bytes, uint rva)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        if (bytes.Read(rva, header) < HeaderSize) return null;
        byte version = (byte)(header[0] & 0x7);
        byte flags = (byte)(header[0] >> 3);
        if (version is not (1 or 2)) return null;
        byte sizeOfProlog = header[1];
        byte count = header[2];
        byte frameRegister = (byte)(header[3] & 0xF);
        byte frameOffset = (byte)(header[3] >> 4);

        string? problem = null;
        int slotsWithPad = (count + 1) & ~1;
        Span<byte> raw = stackalloc byte[256 * 2 + RuntimeFunction.Size];
        int trailerAt = slotsWithPad * 2;
        bool wantsChain = (flags & FlagChainInfo) != 0;
        bool wantsHandler = !wantsChain && (flags & (FlagExceptionHandler | FlagTerminationHandler)) != 0;
        int wanted = count * 2;
        int got = (ulong)rva + HeaderSize <= uint.MaxValue ? bytes.Read(rva + HeaderSize, raw[..wanted]) : 0;
        int slots = got / 2;
        if (slots < count) problem = $"Only {slots} of {count} unwind code slots could be read.";

        var codes = new List<UnwindCode>(slots);
        byte? epilogSize = null;
        bool epilogAtEnd = false;
        var epilogOffsets = new List<uint>();
        for (int i = 0; i < slots;)
        {
            byte codeOffset = raw[2 * i];
            var op = (UnwindOpCode)(raw[2 * i + 1] & 0xF);
            byte info = (byte)(raw[2 * i + 1] >> 4);
            int need = SlotsOf(op, info, version);
            if (need == 0)
            {
                problem ??= $"Unknown unwind operation {(int)op} at slot {i}.";
                break;
            }
            if (i + need > slots)
            {
                problem ??= $"Unwind operation {op} at slot {i} needs {need} slots; {slots - i} remain.";
                break;
            }
            uint s1 = need > 1 ? SlotAt(raw, i + 1) : 0, s2 = need > 2 ? SlotAt(raw, i + 2) : 0;
            uint value = op switch
            {
                UnwindOpCode.AllocLarge when info == 0 => s1 * 8,
                UnwindOpCode.AllocLarge => s1 | s2 << 16,
                UnwindOpCode.AllocSmall => info * 8u + 8,
                UnwindOpCode.SaveNonvol => s1 * 8,
                UnwindOpCode.SaveNonvolFar => s1 | s2 << 16,
                UnwindOpCode.SaveXmm128 => s1 * 16,
                UnwindOpCode.SaveXmm128Far => s1 | s2 << 16,
                UnwindOpCode.Epilog when version == 1 => s1 * 16, // historical UWOP_SAVE_XMM
                UnwindOpCode.SpareCode when version == 1 => s1 | s2 << 16, // historical UWOP_SAVE_XMM_FAR
                UnwindOpCode.Epilog when epilogSize is null => codeOffset,
                UnwindOpCode.Epilog => (uint)(codeOffset | (info & 0xF) << 8),
                UnwindOpCode.PushMachframe => info,
                _ => 0,
            };
            if (op == UnwindOpCode.Epilog && version == 2)
            {
                if (epilogSize is null)
                {
                    epilogSize = codeOffset;
                    epilogAtEnd = (info & 1) != 0;
                }
                else if (value != 0) epilogOffsets.Add(value); // 0: padding
            }
            codes.Add(new UnwindCode(codeOffset, op, info, value, (byte)need));
            i += need;
        }

        RuntimeFunction? chained = null;
        uint? handler = null;
        if ((wantsChain || wantsHandler) && (ulong)rva + HeaderSize + (ulong)trailerAt <= uint.MaxValue - RuntimeFunction.Size)
        {
            uint at = rva + HeaderSize + (uint)trailerAt;
            if (wantsChain)
            {
                chained = RuntimeFunction.TryRead(bytes, at);
                if (chained is null) problem ??= "The chained RUNTIME_FUNCTION after the codes could not be read.";
            }
            else
            {
                Span<byte> h = stackalloc byte[4];
                if (bytes.Read(at, h) == 4) handler = PeImage.U32(h, 0);
            }
        }
        else if (wantsChain) problem ??= "The chained RUNTIME_FUNCTION lies past the end of the address space.";

        return new UnwindInfo(rva, version, flags, sizeOfProlog, count, frameRegister, frameOffset, codes.ToArray(),
            chained, handler, epilogSize, epilogAtEnd, epilogOffsets.ToArray(), problem);
    }

    private static uint SlotAt(ReadOnlySpan<byte> raw, int slot) => (uint)(raw[2 * slot] | raw[2 * slot + 1] << 8);

    /// <summary>Slots an operation takes; 0 for an operation this version does not define.</summary>
    private static int SlotsOf(UnwindOpCode op, byte info, byte version) => op switch
    {
        UnwindOpCode.PushNonvol => 1,
        UnwindOpCode.AllocLarge => info == 0 ? 2 : info == 1 ? 3 : 0,
        UnwindOpCode.AllocSmall => 1,
        UnwindOpCode.SetFpreg => 1,
        UnwindOpCode.SaveNonvol => 2,
        UnwindOpCode.SaveNonvolFar => 3,
        UnwindOpCode.Epilog => version == 2 ? 1 : 2,
        UnwindOpCode.SpareCode => version == 1 ? 3 : 0,
        UnwindOpCode.SaveXmm128 => 2,
        UnwindOpCode.SaveXmm128Far => 3,
        UnwindOpCode.PushMachframe => info <= 1 ? 1 : 0,
        _ => 0,
    };
}
