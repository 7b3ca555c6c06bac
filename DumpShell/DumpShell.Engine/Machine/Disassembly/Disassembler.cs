using System.Collections.Concurrent;
using Iced.Intel;
using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Machine.Disassembly;

/// <summary>
/// What a disassembly gave: its lines, or why there are none (<see cref="ErrorId"/>: "CodeNotAvailable",
/// "NoInstructionEndsAtAddress", "FunctionNotKnown", "FunctionTooLarge", "UnsupportedArchitecture").
/// </summary>
public sealed record DisassemblyResult(IReadOnlyList<DisassemblyLine> Lines, string? ErrorId = null, string? Message = null, FunctionRange? Function = null)
{
    public bool Succeeded => ErrorId is null;

    internal static DisassemblyResult Error(string id, string message, FunctionRange? function = null) => new([], id, message, function);
}

/// <summary>
/// x86/x64 disassembly of a dump's code with Iced (WinDbg's u, ub, uf). Code bytes come from the module image where
/// the address lies in a module (dump memory first, then the image file found on the symbol path) and from plain
/// dump memory elsewhere; nothing is ever made up where neither has them. Instructions print in MASM syntax, with
/// branch and call targets and RIP-relative or absolute memory operands named through <see cref="DumpSymbols"/>
/// ("call av_null_write_pdb!write_null (0x0000000140001510)").
/// </summary>
public sealed class Disassembler
{
    /// <summary>Longest x86 instruction.</summary>
    public const int MaxInstructionLength = 15;
    /// <summary>The largest function -Function (uf) disassembles, and the farthest back ub decodes from a known function start.</summary>
    public const ulong MaxFunctionBytes = 1 << 20;
    /// <summary>How far back ub's start-guessing looks at most.</summary>
    public const int MaxBackwardWindow = 1 << 16;

    private readonly Dump _dump;
    private readonly DumpSymbols _symbols;
    private readonly ConcurrentDictionary<ulong, ResolvedSymbol?> _resolved = new();
    private readonly MasmFormatter _formatter;

    public Disassembler(Dump dump, DumpSymbols symbols)
    {
        _dump = dump;
        _symbols = symbols;
        _formatter = new MasmFormatter(new Resolver(this));
        var o = _formatter.Options;
        o.HexPrefix = "0x";
        o.HexSuffix = null;
        o.UppercaseHex = false;
        o.FirstOperandCharIndex = 0;
        o.SpaceAfterOperandSeparator = false;
        o.MemorySizeOptions = MemorySizeOptions.Always;
        o.ShowSymbolAddress = true;
        o.ShowBranchSize = false;
        o.RipRelativeAddresses = false;
    }

    public Dump Dump => _dump;

    /// <summary>
    /// 64 or 32: the bitness of the code at <paramref name="address"/> (its module's PE header when known, else the
    /// dump's architecture); 0 for architectures Iced does not decode (ARM, ARM64).
    /// </summary>
    public int BitnessAt(ulong address)
    {
        int dumpBitness = _dump.Architecture switch { CpuArchitecture.X64 => 64, CpuArchitecture.X86 => 32, _ => 0 };
        if (dumpBitness == 0) return 0;
        if (_dump.ModuleAt(address) is { } m && _symbols.Images.Get(m).Pe is { } pe) return pe.Is64Bit ? 64 : 32;
        return dumpBitness;
    }

    /// <summary>
    /// Reads code at <paramref name="address"/>: the module image (dump memory over the image file) inside a module,
    /// dump memory elsewhere. Returns how many bytes were there, contiguously from the start.
    /// </summary>
    public int ReadCode(ulong address, Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        ulong room = ulong.MaxValue - address;
        if ((ulong)buffer.Length > room) buffer = buffer[..(int)room];
        if (_dump.ModuleAt(address) is { } m)
        {
            // Clip at the module's end: the rest is read from whatever follows it.
            ulong inModule = m.BaseAddress + m.Size - address;
            int first = (int)Math.Min((ulong)buffer.Length, inModule);
            int got = _symbols.Images.Get(m).Read(address, buffer[..first]);
            if (got < first || first == buffer.Length) return got;
            return got + ReadCode(address + (ulong)got, buffer[got..]);
        }
        return _dump.Memory.Read(address, buffer);
    }

    /// <summary>The symbol of an address (cached); null outside every module.</summary>
    public ResolvedSymbol? Resolve(ulong address) => _resolved.GetOrAdd(address, a => _symbols.Resolve(a));

    /// <summary>
    /// The function containing <paramref name="address"/>: a PDB procedure or Breakpad FUNC, else the x64 function
    /// table's RUNTIME_FUNCTION (Begin..End), else a public symbol's estimated extent; null when none knows it.
    /// </summary>
    public FunctionRange? FindFunction(ulong address)
    {
        if (_dump.ModuleAt(address) is not { } module) return null;
        var fromSymbols = _symbols.For(module).FindFunctionRange(address);
        if (fromSymbols is { IsEstimate: false }) return fromSymbols;
        var image = _symbols.Images.Get(module);
        if (image.Functions?.Find((uint)(address - module.BaseAddress)) is { } entry)
        {
            ulong start = module.BaseAddress + entry.BeginAddress;
            return new FunctionRange(start, module.BaseAddress + entry.EndAddress, Resolve(start)?.Function, "FunctionTable");
        }
        return fromSymbols;
    }

    // ================================================================== u

    /// <summary>WinDbg's u: <paramref name="count"/> instructions from <paramref name="address"/>.</summary>
    public DisassemblyResult Forward(ulong address, int count)
    {
        if (Unsupported(address) is { } error) return error;
        count = Math.Max(1, count);
        var decoded = Decode(address, ulong.MaxValue, count);
        if (decoded.Instructions.Count == 0)
            return DisassemblyResult.Error("CodeNotAvailable", $"The code at {Hex.Address(address, _dump.PointerSize)} is neither in the dump nor in an image file.");
        return new(Lines(decoded, labelAddresses: null));
    }

    // ================================================================== uf

    /// <summary>WinDbg's uf: the whole function containing <paramref name="address"/>, from its symbol or unwind range.</summary>
    public DisassemblyResult Function(ulong address)
    {
        if (Unsupported(address) is { } error) return error;
        if (FindFunction(address) is not { } range)
        {
            string where = Resolve(address)?.Text ?? "outside every module";
            return DisassemblyResult.Error("FunctionNotKnown",
                $"No function table entry or symbol gives the extent of the function at {Hex.Address(address, _dump.PointerSize)} ({where}).");
        }
        if (range.Size > MaxFunctionBytes)
            return DisassemblyResult.Error("FunctionTooLarge",
                $"The function at {Hex.Address(range.Start, _dump.PointerSize)} spans 0x{range.Size:x} bytes ({range.Source}); at most 0x{MaxFunctionBytes:x} are disassembled.", range);
        var decoded = Decode(range.Start, range.End, int.MaxValue);
        if (decoded.Instructions.Count == 0)
            return DisassemblyResult.Error("CodeNotAvailable",
                $"The code of {Resolve(range.Start)?.Text ?? Hex.Address(range.Start, _dump.PointerSize)} is neither in the dump nor in an image file.", range);
        // uf labels each block: every branch target inside the function.
        var targets = new HashSet<ulong>();
        foreach (var i in decoded.Instructions)
            if (DirectTarget(i) is { } t && range.Contains(t)) targets.Add(t);
        return new(Lines(decoded, targets), Function: range);
    }

    // ================================================================== ub

    /// <summary>
    /// WinDbg's ub: the <paramref name="count"/> instructions that end at <paramref name="address"/>. Decoded forward from
    /// the start of the function that holds the byte before the address when a function table or symbol knows it;
    /// otherwise from the start, among many tried up to <paramref name="count"/> * 15 bytes back, whose instruction stream
    /// lands exactly on the address and agrees most with the others (x86 code resynchronizes within a few instructions).
    /// </summary>
    public DisassemblyResult Backward(ulong address, int count)
    {
        if (Unsupported(address) is { } error) return error;
        count = Math.Max(1, count);
        var found = Before(address, count, depth: 0);
        if (found.Error is { } e) return e;
        return new(Lines(new Decoded(found.Instructions, null), labelAddresses: null));
    }

    private (List<Instruction> Instructions, DisassemblyResult? Error) Before(ulong address, int count, int depth)
    {
        string at = Hex.Address(address, _dump.PointerSize);
        if (address == 0) return ([], DisassemblyResult.Error("CodeNotAvailable", $"No code ends at {at}."));

        // Known starts: the function (table or symbols) holding the byte before the address, and the symbol's start.
        var starts = new List<ulong>();
        if (FindFunction(address - 1) is { } f && f.Start < address) starts.Add(f.Start);
        if (Resolve(address - 1) is { Function: not null, FunctionStart: var s } && s < address && !starts.Contains(s)) starts.Add(s);
        foreach (ulong start in starts)
        {
            if (address - start > MaxFunctionBytes) continue;
            var decoded = Decode(start, address, int.MaxValue);
            var list = decoded.Instructions;
            if (decoded.StoppedAt is not null || list.Count == 0 || list[^1].NextIP != address) continue;
            if (list.Count >= count) return (list.GetRange(list.Count - count, count), null);
            // The function starts fewer than count instructions back: what precedes it comes by the heuristic.
            if (depth < 4)
            {
                var earlier = Before(start, count - list.Count, depth + 1);
                if (earlier.Error is null) return ([.. earlier.Instructions, .. list], null);
            }
            return (list, null);
        }
        return Guess(address, count);
    }

    private (List<Instruction> Instructions, DisassemblyResult? Error) Guess(ulong address, int count)
    {
        string at = Hex.Address(address, _dump.PointerSize);
        int bitness = BitnessAt(address - 1);
        int want = (int)Math.Min((long)count * MaxInstructionLength, MaxBackwardWindow);
        want = (int)Math.Min((ulong)want, address);
        // The longest run of bytes ending at the address that is all there: reads are contiguous from their start, and
        // if [a-k, a) is there so is every shorter run, so a binary search finds it.
        var buffer = new byte[want];
        int lo = 0, hi = want;
        while (lo < hi)
        {
            int mid = lo + (hi - lo + 1) / 2;
            if (ReadCode(address - (ulong)mid, buffer.AsSpan(0, mid)) == mid) lo = mid;
            else hi = mid - 1;
        }
        int have = lo;
        if (have == 0)
            return ([], DisassemblyResult.Error("CodeNotAvailable", $"The code before {at} is neither in the dump nor in an image file."));
        ReadCode(address - (ulong)have, buffer.AsSpan(0, have));
        ulong windowStart = address - (ulong)have;

        // Every start offset decoded up to the address (when the window is wider than 1 KiB, the farthest 512, for the
        // most context, and the nearest 512, so that a window whose far end is data still finds the code); keep the
        // streams that land on it exactly.
        var candidates = new List<List<Instruction>>();
        IEnumerable<int> offsets = have <= 1024
            ? Enumerable.Range(0, have)
            : Enumerable.Range(0, 512).Concat(Enumerable.Range(have - 512, 512));
        foreach (int offset in offsets)
        {
            var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(buffer, offset, have - offset), windowStart + (ulong)offset);
            var list = new List<Instruction>();
            while (decoder.IP < address)
            {
                decoder.Decode(out var instruction);
                if (decoder.LastError == DecoderError.NoMoreBytes) break;
                list.Add(instruction);
            }
            if (list.Count > 0 && decoder.IP == address && list[^1].NextIP == address) candidates.Add(list);
        }
        if (candidates.Count == 0)
            return ([], DisassemblyResult.Error("NoInstructionEndsAtAddress", $"No instruction stream decoded from before {at} ends exactly at it."));

        // Votes: how many landing streams have an instruction starting at each address.
        var votes = new Dictionary<ulong, int>();
        foreach (var c in candidates)
            foreach (var i in c) votes[i.IP] = votes.GetValueOrDefault(i.IP) + 1;

        List<Instruction>? best = null;
        (int Invalid, long Score, int Length) bestKey = default;
        foreach (var c in candidates)
        {
            var tail = c.Count > count ? c.GetRange(c.Count - count, count) : c;
            int invalid = tail.Count(i => i.IsInvalid);
            long score = tail.Sum(i => (long)votes[i.IP]);
            var key = (invalid, score, c.Count);
            if (best is null || key.invalid < bestKey.Invalid ||
                (key.invalid == bestKey.Invalid && (score > bestKey.Score || (score == bestKey.Score && c.Count > bestKey.Length))))
            {
                best = c;
                bestKey = key;
            }
        }
        var chosen = best!;
        return (chosen.Count > count ? chosen.GetRange(chosen.Count - count, count) : chosen, null);
    }

    // ================================================================== decoding and lines

    private sealed record Decoded(List<Instruction> Instructions, ulong? StoppedAt);

    private DisassemblyResult? Unsupported(ulong address) =>
        BitnessAt(address) == 0
            ? DisassemblyResult.Error("UnsupportedArchitecture", $"{_dump.Path} is a {_dump.Architecture} dump; only x86 and x64 code is disassembled.")
            : null;

    /// <summary>
    /// Decodes from <paramref name="start"/> while the instruction pointer is below <paramref name="end"/>, at most
    /// <paramref name="maxCount"/> instructions. <see cref="Decoded.StoppedAt"/>: where the code stopped being available.
    /// </summary>
    private Decoded Decode(ulong start, ulong end, int maxCount)
    {
        int bitness = BitnessAt(start);
        ulong span = end == ulong.MaxValue
            ? (ulong)Math.Min((long)maxCount * MaxInstructionLength, 1L << 24)
            : Math.Min(end - start + MaxInstructionLength, MaxFunctionBytes + MaxInstructionLength);
        var buffer = new byte[(int)span];
        int have = ReadCode(start, buffer);
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(buffer, 0, have), start);
        var list = new List<Instruction>();
        ulong? stopped = null;
        while (list.Count < maxCount && decoder.IP < end)
        {
            ulong ip = decoder.IP;
            if (ip - start >= (ulong)have)
            {
                stopped = ip;
                break;
            }
            decoder.Decode(out var instruction);
            if (decoder.LastError == DecoderError.NoMoreBytes)
            {
                stopped = ip;
                break;
            }
            list.Add(instruction);
        }
        return new Decoded(list, stopped);
    }

    private static ulong? DirectTarget(in Instruction i) =>
        i.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64 ? i.NearBranchTarget : null;

    private List<DisassemblyLine> Lines(Decoded decoded, HashSet<ulong>? labelAddresses)
    {
        var lines = new List<DisassemblyLine>(decoded.Instructions.Count + 1);
        var output = new StringOutput();
        var bytes = new byte[MaxInstructionLength];
        bool first = true;
        foreach (var i in decoded.Instructions)
        {
            _formatter.Format(i, output);
            string text = output.ToStringAndReset();
            int n = ReadCode(i.IP, bytes.AsSpan(0, i.Length));
            var resolved = Resolve(i.IP);
            bool label = first || (resolved is { Function: not null, Offset: 0 }) || labelAddresses?.Contains(i.IP) == true;
            ulong? slot = SlotOf(i);
            ulong? target = DirectTarget(i) ?? (slot is { } sl ? IndirectTarget(i, sl) : null);
            lines.Add(new DisassemblyLine
            {
                DumpPath = _dump.Path,
                Address = i.IP,
                Bytes = Convert.ToHexStringLower(bytes, 0, n),
                Length = i.Length,
                Instruction = text,
                Mnemonic = i.IsInvalid ? "(bad)" : i.Mnemonic.ToString().ToLowerInvariant(),
                Symbol = label ? resolved?.Text : null,
                Target = target,
                TargetSymbol = TargetName(target, slot),
                IsCall = i.FlowControl is FlowControl.Call or FlowControl.IndirectCall,
                IsReturn = i.FlowControl == FlowControl.Return,
                PointerSize = _dump.PointerSize,
            });
            first = false;
        }
        if (decoded.StoppedAt is { } stop && decoded.Instructions.Count > 0)
        {
            lines.Add(new DisassemblyLine
            {
                DumpPath = _dump.Path,
                Address = stop,
                Bytes = "",
                Instruction = "?? (the code here is neither in the dump nor in an image file)",
                IsAvailable = false,
                PointerSize = _dump.PointerSize,
            });
        }
        return lines;
    }

    /// <summary>
    /// The name of a branch or call target: the function the symbols give for it; for a call through an import address
    /// table slot whose target is not named (or not in the dump), the imported function ("kernel32!HeapFree").
    /// </summary>
    private string? TargetName(ulong? target, ulong? slot)
    {
        var resolved = target is { } t ? Resolve(t) : null;
        if (resolved is { Function: not null }) return resolved.Text;
        if (slot is { } s && _symbols.ImportedFunctionAt(s) is { } imported) return imported;
        return resolved?.Text;
    }

    /// <summary>The fixed address an indirect branch or call reads its target from (rip-relative or absolute, no registers); null otherwise.</summary>
    private static ulong? SlotOf(in Instruction i)
    {
        if (i.FlowControl is not (FlowControl.IndirectCall or FlowControl.IndirectBranch) || i.Op0Kind != OpKind.Memory) return null;
        if (i.MemoryIndex != Register.None) return null;
        if (!(i.IsIPRelativeMemoryOperand || i.MemoryBase == Register.None)) return null;
        return i.IsIPRelativeMemoryOperand ? i.IPRelativeMemoryAddress : i.MemoryDisplacement64;
    }

    /// <summary>
    /// The function a call or branch at <paramref name="address"/> goes to, named: the direct target's symbol, or for
    /// one through an import slot the imported function; a direct call to a jump stub through an import slot
    /// (<c>jmp qword ptr [__imp_free]</c>) is followed once. Null when no call or branch decodes there or nothing names it.
    /// </summary>
    public (ulong? Target, string? Name, bool ThroughImport) CallTargetAt(ulong address)
    {
        if (BitnessAt(address) == 0) return (null, null, false);
        var decoded = Decode(address, address + 1, 1);
        if (decoded.Instructions.Count == 0) return (null, null, false);
        var i = decoded.Instructions[0];
        if (i.IsInvalid || i.FlowControl is not (FlowControl.Call or FlowControl.IndirectCall or FlowControl.UnconditionalBranch or FlowControl.IndirectBranch))
            return (null, null, false);
        if (SlotOf(i) is { } slot)
        {
            ulong? target = IndirectTarget(i, slot);
            if (_symbols.ImportedFunctionAt(slot) is { } imported) return (target, imported, true);
            return (target, TargetName(target, null), false);
        }
        if (DirectTarget(i) is not { } direct) return (null, null, false);
        var named = Resolve(direct);
        // A thunk in the caller's module: "jmp qword ptr [slot]" (mingw's import stubs) names the import.
        if (named is not { Function: not null } || named.Module.Name == _dump.ModuleAt(address)?.Name)
        {
            var stub = Decode(direct, direct + 1, 1).Instructions;
            if (stub.Count == 1 && stub[0].FlowControl == FlowControl.IndirectBranch && SlotOf(stub[0]) is { } stubSlot
                && _symbols.ImportedFunctionAt(stubSlot) is { } viaStub)
                return (direct, viaStub, true);
        }
        return (direct, named?.Text, false);
    }

    /// <summary>
    /// The call instruction that ends exactly at <paramref name="returnAddress"/> and the function it calls, named as
    /// <see cref="CallTargetAt"/> does; null when no call ends there or its bytes are not available. The usual
    /// encodings are tried first (FF 15 rip-relative, E8 rel32), then the other lengths.
    /// </summary>
    public (ulong CallAddress, ulong? Target, string? Name, bool ThroughImport)? CallBefore(ulong returnAddress)
    {
        int bitness = BitnessAt(returnAddress - 1);
        if (bitness == 0 || returnAddress < 8) return null;
        foreach (int length in (int[])[6, 5, 2, 3, 4, 7, 8])
        {
            if (length == 8 && bitness != 64) continue;
            ulong at = returnAddress - (ulong)length;
            var decoded = Decode(at, at + 1, 1).Instructions;
            if (decoded.Count != 1 || decoded[0].IsInvalid || decoded[0].Length != length || decoded[0].Mnemonic != Mnemonic.Call) continue;
            if (decoded[0].Op0Kind == OpKind.Register && RegisterLoadedFromSlot(at, decoded[0].Op0Register) is { } slot)
            {
                // "mov rax, qword ptr [__imp_HeapFree]; call rax" (unoptimised gcc/clang code).
                ulong? value = _dump.Memory.TryReadPointer(slot, _dump.PointerSize, out ulong v) && v != 0 ? v : null;
                if (_symbols.ImportedFunctionAt(slot) is { } imported) return (at, value, imported, true);
                return (at, value, TargetName(value, null), false);
            }
            var (target, name, throughImport) = CallTargetAt(at);
            return (at, target, name, throughImport);
        }
        return null;
    }

    /// <summary>
    /// The fixed address a register was last loaded from before <paramref name="address"/> ("mov rax, qword ptr
    /// [rip+slot]"), looking back at most 4 instructions; null when another instruction writes it first, a branch or
    /// call intervenes, or the code is not there.
    /// </summary>
    private ulong? RegisterLoadedFromSlot(ulong address, Register register)
    {
        var found = Before(address, 4, depth: 0);
        if (found.Error is not null) return null;
        var full = register.GetFullRegister();
        for (int k = found.Instructions.Count - 1; k >= 0; k--)
        {
            var i = found.Instructions[k];
            if (i.IsInvalid || i.FlowControl != FlowControl.Next) return null;
            bool writes = i.OpCount > 0 && i.Op0Kind == OpKind.Register && i.Op0Register.GetFullRegister() == full;
            if (!writes) continue;
            if (i.Mnemonic == Mnemonic.Mov && i.Op0Register == full && i.OpCount == 2 && i.Op1Kind == OpKind.Memory
                && i.MemoryIndex == Register.None && (i.IsIPRelativeMemoryOperand || i.MemoryBase == Register.None))
                return i.IsIPRelativeMemoryOperand ? i.IPRelativeMemoryAddress : i.MemoryDisplacement64;
            return null;
        }
        return null;
    }

    /// <summary>An indirect branch or call through a fixed address (an import slot): the pointer the dump holds there.</summary>
    private ulong? IndirectTarget(in Instruction i, ulong slot)
    {
        int size = i.MemorySize switch { MemorySize.UInt64 or MemorySize.QwordOffset => 8, MemorySize.UInt32 or MemorySize.DwordOffset => 4, _ => 0 };
        if (size == 0) size = _dump.PointerSize;
        // Dump memory only: an image file's import slots hold RVAs of names, not the bound addresses.
        return _dump.Memory.TryReadPointer(slot, size, out ulong value) && value != 0 ? value : null;
    }

    /// <summary>Names branch targets and fixed memory operands (RIP-relative or absolute) that lie in a module.</summary>
    private sealed class Resolver(Disassembler owner) : ISymbolResolver
    {
        public bool TryGetSymbol(in Instruction instruction, int operand, int instructionOperand, ulong address, int addressSize, out SymbolResult symbol)
        {
            symbol = default;
            if (instructionOperand < 0) return false;
            bool wanted = instruction.GetOpKind(instructionOperand) switch
            {
                OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64 => true,
                OpKind.Memory => instruction.IsIPRelativeMemoryOperand ||
                                 (instruction.MemoryBase == Register.None && instruction.MemoryIndex == Register.None),
                _ => false,
            };
            if (!wanted || owner.Resolve(address) is not { } resolved) return false;
            symbol = new SymbolResult(address, resolved.Text);
            return true;
        }
    }
}
