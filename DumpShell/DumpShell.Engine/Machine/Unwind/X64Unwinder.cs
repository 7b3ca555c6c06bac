using Iced.Intel;
using DumpShell.Symbols.Pe;

namespace DumpShell.Machine.Unwind;

/// <summary>
/// Integer register state during a walk, in UNWIND_CODE numbering (0 RAX/EAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, 5 RBP,
/// 6 RSI, 7 RDI, 8-15 R8-R15) plus the instruction pointer.
/// </summary>
internal sealed class RegisterState
{
    public const int Rsp = 4, Rbp = 5;
    /// <summary>All sixteen registers known (a context).</summary>
    public const ushort AllKnown = 0xFFFF;
    /// <summary>The x64 nonvolatile registers: RBX, RSP, RBP, RSI, RDI, R12-R15.</summary>
    public const ushort X64Nonvolatile = 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 12 | 1 << 13 | 1 << 14 | 1 << 15;
    public readonly ulong[] Gpr = new ulong[16];
    public ulong Ip;
    /// <summary>
    /// Which registers hold the frame's real values (bit = register number). A context knows all; unwinding by unwind
    /// data keeps the nonvolatile ones and those it restores; a frame found by scanning knows only RSP (the callee it
    /// was found from may have reused every other register).
    /// </summary>
    public ushort Known = AllKnown;

    public bool IsKnown(int register) => (Known & (1 << register)) != 0;

    public ulong Sp { get => Gpr[Rsp]; set => Gpr[Rsp] = value; }
    public ulong Fp { get => Gpr[Rbp]; set => Gpr[Rbp] = value; }

    public RegisterState Clone()
    {
        var c = new RegisterState { Ip = Ip, Known = Known };
        Gpr.CopyTo(c.Gpr, 0);
        return c;
    }

    public static readonly string[] X64Names =
        ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
    public static readonly string[] X86Names = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
}

/// <summary>The outcome of one unwinding attempt: the caller's registers, or why there are none.</summary>
internal readonly record struct UnwindAttempt(RegisterState? Caller, string? Failure, bool CallerIpIsExact = false)
{
    public static UnwindAttempt Fail(string why) => new(null, why);
}

/// <summary>
/// Unwinds one x64 frame with the module's .pdata/.xdata, as the Windows x64 unwind procedure describes: a leaf
/// (no RUNTIME_FUNCTION) returns through [RSP]; an instruction pointer inside an epilog has the rest of the epilog
/// simulated (found by decoding the code from RIP: add/lea rsp, pops, then ret or a tail-call jmp); otherwise the
/// unwind codes that the prolog has executed are undone, then those of every chained parent, then the return
/// address is popped (or the machine frame's RIP/RSP taken).
/// </summary>
internal static class X64Unwinder
{
    /// <summary>Chained and indirect entries followed at most; real chains are a few long.</summary>
    public const int MaxChainDepth = 32;
    /// <summary>Instructions decoded at most when matching an epilog (an add/lea, 16 pops, a ret).</summary>
    private const int MaxEpilogInstructions = 20;
    private const int EpilogWindow = 64;

    /// <summary>Reads a 64-bit value of process memory.</summary>
    public delegate bool ReadU64(ulong address, out ulong value);

    /// <summary>A leaf function: the return address is at [RSP].</summary>
    public static UnwindAttempt Leaf(RegisterState regs, ReadU64 read)
    {
        if (!read(regs.Sp, out ulong ret)) return UnwindAttempt.Fail($"the return address slot at 0x{regs.Sp:x} is not in the dump");
        var caller = regs.Clone();
        caller.Ip = ret;
        caller.Sp = regs.Sp + 8;
        caller.Known &= RegisterState.X64Nonvolatile;
        return new UnwindAttempt(caller, null);
    }

    /// <summary>
    /// Unwinds the frame of the function <paramref name="entry"/> (found for the frame's IP) in <paramref name="image"/>.
    /// <paramref name="ipRva"/> is the frame's exact IP as an RVA (the return address for a caller frame).
    /// </summary>
    public static UnwindAttempt Unwind(ModuleImage image, RuntimeFunction entry, uint ipRva, RegisterState regs, ReadU64 read)
    {
        if (Resolve(image, entry, out var function) is { } resolveError) return UnwindAttempt.Fail(resolveError);
        var info = image.GetUnwindInfo(function.UnwindData);
        if (info is null) return UnwindAttempt.Fail($"the UNWIND_INFO at RVA 0x{function.UnwindData:x} is not readable or not version 1/2");
        if (!info.IsComplete) return UnwindAttempt.Fail($"the UNWIND_INFO at RVA 0x{function.UnwindData:x} is incomplete: {info.Problem}");

        var epilog = TryEpilog(image, function, info, regs, read);
        if (epilog is { } e) return e;

        var caller = regs.Clone();
        uint offset = ipRva >= function.BeginAddress ? ipRva - function.BeginAddress : 0;
        if (info.FrameRegister != 0 && !regs.IsKnown(info.FrameRegister)) RecoverFrameRegister(info, offset, caller);
        ulong frameBase = FrameBase(info, offset, caller);
        bool machineFrame = false;
        if (Apply(info, offset, filterByOffset: true, frameBase, caller, read, ref machineFrame) is { } applyError)
            return UnwindAttempt.Fail(applyError);

        var current = info;
        for (int depth = 0; current.IsChained && !machineFrame; depth++)
        {
            if (depth >= MaxChainDepth) return UnwindAttempt.Fail($"the chain of unwind records is longer than {MaxChainDepth}");
            if (current.Chained is not { } parentEntry) return UnwindAttempt.Fail("a chained unwind record's parent entry is missing");
            if (Resolve(image, parentEntry, out var parentFunction) is { } chainError) return UnwindAttempt.Fail(chainError);
            var parent = image.GetUnwindInfo(parentFunction.UnwindData);
            if (parent is null) return UnwindAttempt.Fail($"the chained UNWIND_INFO at RVA 0x{parentFunction.UnwindData:x} is not readable");
            if (!parent.IsComplete) return UnwindAttempt.Fail($"the chained UNWIND_INFO at RVA 0x{parentFunction.UnwindData:x} is incomplete: {parent.Problem}");
            // The parent's prolog has run in full: the IP is in a later fragment of the function.
            if (Apply(parent, uint.MaxValue, filterByOffset: false, frameBase, caller, read, ref machineFrame) is { } parentError)
                return UnwindAttempt.Fail(parentError);
            current = parent;
        }

        if (machineFrame)
        {
            // An interrupted context: its other registers are whatever the interrupted code had, not recorded here.
            caller.Known = 1 << RegisterState.Rsp;
            return new UnwindAttempt(caller, null, CallerIpIsExact: true);
        }
        if (!read(caller.Sp, out ulong ret)) return UnwindAttempt.Fail($"the return address slot at 0x{caller.Sp:x} is not in the dump");
        caller.Ip = ret;
        caller.Sp += 8;
        caller.Known &= RegisterState.X64Nonvolatile;
        return new UnwindAttempt(caller, null);
    }

    /// <summary>Follows indirect entries (UnwindData bit 0) to the entry that names an UNWIND_INFO.</summary>
    private static string? Resolve(ModuleImage image, RuntimeFunction entry, out RuntimeFunction function)
    {
        function = entry;
        for (int depth = 0; function.IsIndirect; depth++)
        {
            if (depth >= MaxChainDepth) return $"indirect function table entries nest deeper than {MaxChainDepth}";
            var next = RuntimeFunction.TryRead(image.Bytes, function.UnwindDataRva);
            if (next is null) return $"the indirect function table entry at RVA 0x{function.UnwindDataRva:x} is not readable";
            function = next.Value;
        }
        return null;
    }

    /// <summary>
    /// A frame found by scanning (or below code without unwind data) does not know its frame register: the callee may
    /// have reused it. When the function sets one, it can be rebuilt from RSP, provided the body has not moved RSP
    /// since the prolog (no dynamic allocation): undoing the operations that follow UWOP_SET_FPREG in the prolog gives
    /// RSP as it was when the frame register was set, and the register was that plus the frame offset.
    /// </summary>
    private static void RecoverFrameRegister(UnwindInfo info, uint offset, RegisterState regs)
    {
        ulong sp = regs.Sp;
        foreach (var code in info.Codes)
        {
            if (code.CodeOffset > offset && !IsDescriptorOnly(code, info)) continue;
            switch (code.Op)
            {
                case UnwindOpCode.SetFpreg:
                    regs.Gpr[info.FrameRegister] = sp + info.FrameOffset;
                    regs.Known |= (ushort)(1 << info.FrameRegister);
                    return;
                case UnwindOpCode.PushNonvol:
                    sp += 8;
                    break;
                case UnwindOpCode.AllocLarge:
                case UnwindOpCode.AllocSmall:
                    sp += code.Value;
                    break;
                case UnwindOpCode.PushMachframe:
                    return;
            }
        }
    }

    /// <summary>
    /// The base of the fixed stack allocation, from which the offsets of UWOP_SAVE_* count: RSP, or, once the prolog
    /// has set the frame register, that register less the frame offset.
    /// </summary>
    private static ulong FrameBase(UnwindInfo info, uint offset, RegisterState regs)
    {
        if (info.FrameRegister == 0) return regs.Sp;
        bool established = true;
        foreach (var code in info.Codes)
            if (code.Op == UnwindOpCode.SetFpreg) established = code.CodeOffset <= offset;
        return established ? regs.Gpr[info.FrameRegister] - info.FrameOffset : regs.Sp;
    }

    /// <summary>Undoes the operations of one record (those the prolog has executed, when filtering by offset).</summary>
    private static string? Apply(UnwindInfo info, uint offset, bool filterByOffset, ulong frameBase, RegisterState regs,
        ReadU64 read, ref bool machineFrame)
    {
        foreach (var code in info.Codes)
        {
            if (filterByOffset && code.CodeOffset > offset && !IsDescriptorOnly(code, info)) continue;
            switch (code.Op)
            {
                case UnwindOpCode.PushNonvol:
                {
                    if (!read(regs.Sp, out ulong v)) return $"the saved {RegisterState.X64Names[code.Register]} at 0x{regs.Sp:x} is not in the dump";
                    regs.Sp += 8;
                    regs.Gpr[code.Register] = v;
                    regs.Known |= (ushort)(1 << code.Register);
                    break;
                }
                case UnwindOpCode.AllocLarge:
                case UnwindOpCode.AllocSmall:
                    regs.Sp += code.Value;
                    break;
                case UnwindOpCode.SetFpreg:
                    if (info.FrameRegister == 0) return "UWOP_SET_FPREG in a record without a frame register";
                    regs.Sp = regs.Gpr[info.FrameRegister] - info.FrameOffset;
                    break;
                case UnwindOpCode.SaveNonvol:
                case UnwindOpCode.SaveNonvolFar:
                {
                    ulong at = frameBase + code.Value;
                    if (!read(at, out ulong v)) return $"the saved {RegisterState.X64Names[code.Register]} at 0x{at:x} is not in the dump";
                    regs.Gpr[code.Register] = v;
                    regs.Known |= (ushort)(1 << code.Register);
                    break;
                }
                case UnwindOpCode.PushMachframe:
                {
                    ulong frame = regs.Sp + (code.Value != 0 ? 8UL : 0UL);
                    if (!read(frame, out ulong rip) || !read(frame + 24, out ulong rsp))
                        return $"the machine frame at 0x{frame:x} is not in the dump";
                    regs.Ip = rip;
                    regs.Sp = rsp;
                    machineFrame = true;
                    return null; // the machine frame ends the record: it is the first thing the "prolog" pushed
                }
                // SaveXmm128(_Far), the version-1 XMM saves and the version-2 epilog descriptors do not move RSP or
                // restore an integer register.
            }
        }
        return null;
    }

    /// <summary>Version-2 epilog descriptors carry their own meaning in CodeOffset; they are never "executed" prolog steps.</summary>
    private static bool IsDescriptorOnly(UnwindCode code, UnwindInfo info) => code.Op == UnwindOpCode.Epilog && info.Version == 2;

    /// <summary>
    /// Whether the code at the IP is (the rest of) an epilog: an optional <c>add rsp, imm</c> or <c>lea rsp, [frame
    /// register + disp]</c> first, then pops, then <c>ret</c> or a jump out of the function (a tail call). If it is,
    /// the epilog is simulated and the caller's registers are returned; null otherwise (or when the code is not there).
    /// </summary>
    private static UnwindAttempt? TryEpilog(ModuleImage image, RuntimeFunction function, UnwindInfo info, RegisterState regs, ReadU64 read)
    {
        var code = new byte[EpilogWindow];
        int n = image.Read(regs.Ip, code);
        if (n == 0) return null;
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code, 0, n), regs.Ip);
        var state = regs.Clone();
        ulong imageBase = image.Module.BaseAddress;
        bool sawEpilogStep = false;
        for (int i = 0; i < MaxEpilogInstructions; i++)
        {
            if (decoder.IP >= regs.Ip + (ulong)n) return null;
            decoder.Decode(out var instr);
            if (instr.IsInvalid) return null;
            switch (instr.Code)
            {
                case Code.Add_rm64_imm8 or Code.Add_rm64_imm32 when i == 0 && instr.Op0Kind == OpKind.Register && instr.Op0Register == Register.RSP:
                    state.Sp += instr.GetImmediate(1);
                    sawEpilogStep = true;
                    continue;
                case Code.Lea_r64_m when i == 0 && instr.Op0Register == Register.RSP:
                {
                    int baseReg = Gpr64Index(instr.MemoryBase);
                    if (info.FrameRegister == 0 || baseReg != info.FrameRegister || instr.MemoryIndex != Register.None) return null;
                    state.Sp = state.Gpr[baseReg] + instr.MemoryDisplacement64;
                    sawEpilogStep = true;
                    continue;
                }
                case Code.Pop_r64:
                {
                    int reg = Gpr64Index(instr.Op0Register);
                    if (reg < 0) return null;
                    if (!read(state.Sp, out ulong v)) return null;
                    state.Sp += 8;
                    state.Gpr[reg] = v;
                    state.Known |= (ushort)(1 << reg);
                    sawEpilogStep = true;
                    continue;
                }
                case Code.Retnq or Code.Retnq_imm16:
                    return Return(state, read);
                case Code.Jmp_rel8_64 or Code.Jmp_rel32_64:
                {
                    ulong target = instr.NearBranchTarget;
                    bool inside = target >= imageBase + function.BeginAddress && target < imageBase + function.EndAddress;
                    if (inside) return null;
                    // A jump out of the function right away could be a jump to a cold fragment of this function (which
                    // has a chained unwind record); after pops or an add it can only be a tail call.
                    if (!sawEpilogStep && IsChainedFragment(image, target)) return null;
                    return Return(state, read);
                }
                case Code.Jmp_rm64:
                    // Tail calls through the import table (jmp [rip+x]) or a register; jump tables index memory.
                    if (instr.Op0Kind == OpKind.Register || (instr.Op0Kind == OpKind.Memory && instr.IsIPRelativeMemoryOperand))
                        return Return(state, read);
                    return null;
                default:
                    return null;
            }
        }
        return null;

        static UnwindAttempt Return(RegisterState state, ReadU64 read)
        {
            if (!read(state.Sp, out ulong ret)) return UnwindAttempt.Fail($"the return address slot at 0x{state.Sp:x} is not in the dump");
            var caller = state.Clone();
            caller.Ip = ret;
            caller.Sp = state.Sp + 8;
            caller.Known &= RegisterState.X64Nonvolatile;
            return new UnwindAttempt(caller, null);
        }
    }

    private static bool IsChainedFragment(ModuleImage image, ulong target)
    {
        ulong imageBase = image.Module.BaseAddress;
        if (target < imageBase || target - imageBase >= image.Module.Size || image.Functions is not { } table) return false;
        if (table.Find((uint)(target - imageBase)) is not { } entry) return false;
        if (Resolve(image, entry, out var function) is not null) return false;
        return image.GetUnwindInfo(function.UnwindData)?.IsChained == true;
    }

    /// <summary>The UNWIND_CODE number of a 64-bit general register; -1 for anything else.</summary>
    internal static int Gpr64Index(Register register) =>
        register >= Register.RAX && register <= Register.R15 ? register - Register.RAX : -1;
}
