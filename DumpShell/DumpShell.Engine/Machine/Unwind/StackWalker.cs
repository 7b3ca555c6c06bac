using DumpShell.Model;

namespace DumpShell.Machine.Unwind;

/// <summary>
/// Walks a thread's stack from a register context (the thread's own, the exception's, or any CONTEXT record) and
/// returns its frames, each labelled with how it was found (<see cref="FrameTrust"/>).
/// </summary>
/// <remarks>
/// <para>x64: unwind data (.pdata/.xdata of the module holding the IP, from the dump or an image file) first,
/// including leaf functions (a module whose function table has no entry for the IP returns through [RSP]) and
/// epilogs; then the RBP chain, where there is no unwind data; then a scan of the stack for a return address.</para>
/// <para>x86: <see cref="StackWalkOptions.X86FrameData"/> first when given (PDB FRAMEDATA/FPO and Breakpad STACK WIN
/// through <see cref="X86FrameData"/>), then the EBP chain, then a scan. An x64 dump's WOW64 threads are walked as x86
/// from their 32-bit context (<see cref="Dump.Wow64Thread"/>, <see cref="Dump.Wow64Context"/>), with 4-byte frames.</para>
/// <para>A scanned (or frame-pointer) return address must lie in a module, in an executable section when the headers
/// are known, and right after a CALL instruction when the code is available (see <see cref="CallSite"/>).</para>
/// <para>Where there is no unwind data (x64), a few checks keep stale values out: a frame pointer is not followed
/// past a slot holding a return address the code proves (code without frame pointers leaves the caller's RBP in
/// place); a candidate found by scanning or by the frame pointer in a module with unwind data must itself unwind to
/// a frame in a module; a copy of the context's own IP on the stack is not a return address. A frame found that way
/// does not know its frame register (the callee may have reused RBP): when its function sets one, it is rebuilt from
/// RSP and the prolog's codes.</para>
/// <para>The walk stops at a return address of 0, when no method finds a caller whose instruction pointer lies in a
/// module, when the stack pointer would not increase or would leave the thread's stack, when memory it needs is
/// not in the dump, and at <see cref="StackWalkOptions.MaxFrames"/>. The last frame's
/// <see cref="StackFrame.StopReason"/> says which. Nothing here throws on dump content.</para>
/// <para>Frames carry Frame, ChildSP, InstructionPointer, ReturnAddress (the next frame's IP), FramePointer, Trust,
/// Module, Offset (from the module base) and Symbol ("module+0xoffset"); Function, SourceFile and Line are left for
/// a symbolizer.</para>
/// </remarks>
public sealed class StackWalker : IDisposable
{
    private readonly Dump _dump;
    private readonly StackWalkOptions _options;
    private readonly ImageProvider _images;
    private readonly bool _ownsImages;
    private readonly object _walkLock = new();
    // The architecture of the walk in progress: the dump's, or x86 for the 32-bit side of a WOW64 thread in an x64 dump.
    private int _pointerSize;
    private bool _x64;

    public StackWalker(Dump dump, StackWalkOptions? options = null)
    {
        _dump = dump;
        _options = options ?? new StackWalkOptions();
        _ownsImages = _options.Images is null;
        _images = _options.Images ?? new ImageProvider(dump, _options.FindImageFile);
        _pointerSize = dump.PointerSize;
        _x64 = dump.Architecture == CpuArchitecture.X64;
    }

    public ImageProvider Images => _images;

    /// <summary>Walks <paramref name="thread"/> from its own context.</summary>
    public static IReadOnlyList<StackFrame> Walk(Dump dump, DumpThread thread, StackWalkOptions? options = null)
    {
        using var walker = new StackWalker(dump, options);
        return walker.Walk(thread);
    }

    /// <summary>Walks thread <paramref name="threadId"/> from <paramref name="start"/> (e.g. the exception context, .ecxr, or a .cxr record).</summary>
    public static IReadOnlyList<StackFrame> Walk(Dump dump, uint threadId, CpuContext start, StackWalkOptions? options = null)
    {
        using var walker = new StackWalker(dump, options);
        return walker.Walk(threadId, start);
    }

    /// <summary>
    /// Walks <paramref name="thread"/> from its registers, within its stack bounds. A thread whose
    /// <see cref="DumpThread.Architecture"/> is x86 in an x64 dump (<see cref="Dump.Wow64Thread"/>: the 32-bit side of a
    /// WOW64 thread) is walked as x86, with 4-byte frames.
    /// </summary>
    public IReadOnlyList<StackFrame> Walk(DumpThread thread) =>
        WalkCore(thread.Id, thread, thread.Registers, thread.Architecture == CpuArchitecture.X86 ? CpuArchitecture.X86 : _dump.Architecture);

    /// <summary>
    /// Walks thread <paramref name="threadId"/> from <paramref name="start"/>. An x86 context in an x64 dump (a WOW64
    /// context) is walked as x86, within the thread's 32-bit stack bounds (TEB32) when they are known.
    /// </summary>
    public IReadOnlyList<StackFrame> Walk(uint threadId, CpuContext start)
    {
        var thread = _dump.Threads.FirstOrDefault(t => t.Id == threadId);
        if (start.Architecture == CpuArchitecture.X86 && _dump.Architecture == CpuArchitecture.X64)
            return WalkCore(threadId, thread is null ? null : _dump.Wow64Thread(thread), start.Registers, CpuArchitecture.X86);
        return WalkCore(threadId, thread, start.Registers, start.Architecture == CpuArchitecture.X86 ? CpuArchitecture.X86 : _dump.Architecture);
    }

    /// <summary>
    /// Walks from registers by name (rip/rsp/rbp/..., or eip/esp/ebp/...), e.g. <see cref="DumpException.ContextRegisters"/>.
    /// In an x64 dump, registers with eip and no rip are walked as x86 (a WOW64 context).
    /// </summary>
    public IReadOnlyList<StackFrame> Walk(uint threadId, IReadOnlyDictionary<string, ulong> registers)
    {
        bool x86 = _dump.Architecture == CpuArchitecture.X64 && !TryGet(registers, "rip", out _) && TryGet(registers, "eip", out _);
        var context = CpuContext.FromRegisters(x86 ? CpuArchitecture.X86 : _dump.Architecture, registers);
        return Walk(threadId, context);
    }

    public void Dispose()
    {
        if (_ownsImages) _images.Dispose();
    }

    // ------------------------------------------------------------------ the walk

    private IReadOnlyList<StackFrame> WalkCore(uint threadId, DumpThread? thread, IReadOnlyDictionary<string, ulong> registers, CpuArchitecture arch)
    {
        if (_dump.Architecture is not (CpuArchitecture.X64 or CpuArchitecture.X86)) return [];
        // x64 walks x64 or (WOW64) x86; an x86 dump walks x86 only.
        if (arch is not (CpuArchitecture.X64 or CpuArchitecture.X86) || (arch == CpuArchitecture.X64 && _dump.Architecture != CpuArchitecture.X64)) return [];
        lock (_walkLock)
        {
            _x64 = arch == CpuArchitecture.X64;
            _pointerSize = _x64 ? 8 : 4;
            return WalkLocked(threadId, thread, registers);
        }
    }

    private IReadOnlyList<StackFrame> WalkLocked(uint threadId, DumpThread? thread, IReadOnlyDictionary<string, ulong> registers)
    {
        var regs = FromDictionary(registers);
        if (regs is null) return [];

        int maxFrames = Math.Clamp(_options.MaxFrames, 1, StackWalkOptions.MaxFramesLimit);
        var frames = new List<StackFrame> { MakeFrame(threadId, 0, regs, FrameTrust.Context) };
        var bounds = StackBounds(thread, regs.Sp);
        bool exactIp = true; // frame 0's IP is where the thread was, not a return address
        X86UnwindRequest? callee = null; // x86: the frame data request of the frame below
        while (true)
        {
            var last = frames[^1];
            if (bounds is not { } b)
            {
                last.StopReason = $"The stack pointer 0x{regs.Sp:x} is not on the thread's stack and not in the dump's memory.";
                break;
            }
            if (frames.Count >= maxFrames)
            {
                last.StopReason = $"Stopped at the frame limit ({maxFrames}).";
                break;
            }
            var step = _x64 ? StepX64(regs, exactIp, b, frames.Count == 1) : StepX86(regs, exactIp, b, frames.Count == 1, ref callee);
            if (step.Caller is null)
            {
                last.StopReason = step.Stop;
                break;
            }
            regs = step.Caller;
            exactIp = step.ExactIp;
            frames.Add(MakeFrame(threadId, frames.Count, regs, step.Trust));
        }
        for (int i = 0; i + 1 < frames.Count; i++) frames[i].ReturnAddress = frames[i + 1].InstructionPointer;
        return frames;
    }

    private readonly record struct Step(RegisterState? Caller, FrameTrust Trust, bool ExactIp, string? Stop)
    {
        public static Step Stopped(string why) => new(null, default, false, why);
    }

    private StackFrame MakeFrame(uint threadId, int number, RegisterState regs, FrameTrust trust)
    {
        var module = _dump.ModuleAt(regs.Ip);
        ulong? offset = module is null ? null : regs.Ip - module.BaseAddress;
        return new StackFrame
        {
            DumpPath = _dump.Path,
            ThreadId = threadId,
            Frame = number,
            ChildSP = regs.Sp,
            InstructionPointer = regs.Ip,
            FramePointer = regs.Fp,
            Module = module?.Name,
            Offset = offset,
            Symbol = module is null ? null : $"{module.Name}+0x{offset:x}",
            Trust = trust,
            PointerSize = _pointerSize,
        };
    }

    private RegisterState? FromDictionary(IReadOnlyDictionary<string, ulong> registers)
    {
        var names = _x64 ? RegisterState.X64Names : RegisterState.X86Names;
        string ipName = _x64 ? "rip" : "eip";
        if (!TryGet(registers, ipName, out ulong ip) || !TryGet(registers, names[RegisterState.Rsp], out ulong sp)) return null;
        var regs = new RegisterState { Ip = ip };
        for (int i = 0; i < names.Length; i++)
            if (TryGet(registers, names[i], out ulong v)) regs.Gpr[i] = _x64 ? v : v & 0xFFFF_FFFF;
        regs.Sp = sp;
        if (!_x64) regs.Ip &= 0xFFFF_FFFF;
        return regs;
    }

    private static bool TryGet(IReadOnlyDictionary<string, ulong> registers, string name, out ulong value)
    {
        if (registers.TryGetValue(name, out value)) return true;
        foreach (var (k, v) in registers)
        {
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase))
            {
                value = v;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// [Low, High) of the stack the walk may use: the thread's bounds (TEB or captured stack) when they hold the
    /// stack pointer, else the captured memory range that does (an exception context on another stack).
    /// </summary>
    private (ulong Low, ulong High)? StackBounds(DumpThread? thread, ulong sp)
    {
        if (thread?.StackBase is { } high && thread.StackLimit is { } low && sp >= low && sp <= high) return (low, high);
        foreach (var (start, size) in _dump.Memory.Ranges)
        {
            if (sp >= start && sp - start < size) return (start, start + size);
            if (start > sp) break;
        }
        return null;
    }

    // ------------------------------------------------------------------ x64

    private Step StepX64(RegisterState regs, bool exactIp, (ulong Low, ulong High) bounds, bool fromContext)
    {
        var reasons = new List<string>();
        var module = _dump.ModuleAt(regs.Ip) ?? (exactIp || regs.Ip == 0 ? null : _dump.ModuleAt(regs.Ip - 1));
        if (module is null)
        {
            reasons.Add($"the instruction pointer 0x{regs.Ip:x} is not in any module");
            if (!fromContext) return Step.Stopped(Sentence(reasons));
        }
        else
        {
            var image = _images.Get(module);
            if (image.Functions is not { } table)
            {
                reasons.Add($"no unwind data for {module.Name} ({(image.Pe is null ? "its headers are neither in the dump nor in an image file" : "no readable exception directory")})");
            }
            else
            {
                uint rva = (uint)(regs.Ip - module.BaseAddress);
                uint lookup = exactIp || rva == 0 ? rva : rva - 1;
                var entry = table.Find(lookup);
                UnwindAttempt attempt;
                bool leaf = entry is null;
                attempt = leaf ? X64Unwinder.Leaf(regs, ReadU64) : X64Unwinder.Unwind(image, entry!.Value, rva, regs, ReadU64);
                if (attempt.Caller is { } caller)
                {
                    if (caller.Ip == 0 && caller.Sp > regs.Sp)
                        return Step.Stopped("The return address is 0: the bottom of the stack.");
                    string? invalid = Validate(caller, regs, bounds, requireCallSite: leaf);
                    if (invalid is null) return new Step(caller, FrameTrust.UnwindInfo, attempt.CallerIpIsExact, null);
                    reasons.Add($"{(leaf ? "as a leaf function" : "the unwind data")} gave {invalid}");
                }
                else reasons.Add($"unwinding with the unwind data failed: {attempt.Failure}");
            }
        }

        return Fallbacks(regs, exactIp, bounds, module is not null, reasons);
    }

    // ------------------------------------------------------------------ x86

    private Step StepX86(RegisterState regs, bool exactIp, (ulong Low, ulong High) bounds, bool fromContext, ref X86UnwindRequest? callee)
    {
        var reasons = new List<string>();
        var module = _dump.ModuleAt(regs.Ip) ?? (exactIp || regs.Ip == 0 ? null : _dump.ModuleAt(regs.Ip - 1));
        var below = callee;
        callee = null;
        if (module is null)
        {
            reasons.Add($"the instruction pointer 0x{regs.Ip:x} is not in any module");
            if (!fromContext) return Step.Stopped(Sentence(reasons));
        }
        else if (_options.X86FrameData is { } source)
        {
            var request = new X86UnwindRequest
            {
                Module = module,
                Rva = (uint)(regs.Ip - module.BaseAddress),
                IsReturnAddress = !exactIp,
                Registers = ToX86(regs),
                StackLow = bounds.Low,
                StackHigh = bounds.High,
                ReadUInt32 = a => _dump.Memory.TryReadUInt32(a, out uint v) ? v : null,
                // Only the callee's own request is needed, not the chain below it.
                Callee = below is null ? null : new X86UnwindRequest
                {
                    Module = below.Module, Rva = below.Rva, IsReturnAddress = below.IsReturnAddress, Registers = below.Registers,
                    StackLow = below.StackLow, StackHigh = below.StackHigh, ReadUInt32 = below.ReadUInt32,
                },
            };
            callee = request;
            bool found;
            X86Registers result;
            string? failure;
            try { found = source.TryUnwind(request, out result, out failure); }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException or IOException or FormatException)
            {
                found = false;
                result = default;
                failure = null;
                reasons.Add($"the x86 frame data failed: {e.Message}");
            }
            if (!found && failure is not null) reasons.Add($"the x86 frame data: {failure}");
            if (found)
            {
                var caller = FromX86(result);
                if (caller.Ip == 0 && caller.Sp > regs.Sp) return Step.Stopped("The return address is 0: the bottom of the stack.");
                string? invalid = Validate(caller, regs, bounds, requireCallSite: false);
                if (invalid is null) return new Step(caller, FrameTrust.UnwindInfo, false, null);
                reasons.Add($"the x86 frame data gave {invalid}");
            }
        }

        return Fallbacks(regs, exactIp, bounds, module is not null, reasons);
    }

    private static X86Registers ToX86(RegisterState r) => new(
        (uint)r.Ip, (uint)r.Gpr[4], (uint)r.Gpr[5], (uint)r.Gpr[3], (uint)r.Gpr[6], (uint)r.Gpr[7], (uint)r.Gpr[0], (uint)r.Gpr[1], (uint)r.Gpr[2]);

    private static RegisterState FromX86(X86Registers x)
    {
        var r = new RegisterState { Ip = x.Eip };
        r.Gpr[0] = x.Eax; r.Gpr[1] = x.Ecx; r.Gpr[2] = x.Edx; r.Gpr[3] = x.Ebx;
        r.Gpr[4] = x.Esp; r.Gpr[5] = x.Ebp; r.Gpr[6] = x.Esi; r.Gpr[7] = x.Edi;
        return r;
    }

    // ------------------------------------------------------------------ shared fallbacks

    /// <summary>
    /// Where unwind data did not give the caller: the frame-pointer chain, then a scan. A frame pointer is only
    /// believed when no slot below its return-address slot holds a return address proven by the code (a call ends
    /// right before it): code without frame pointers leaves the caller's frame pointer in place, and following it
    /// would skip the frames in between. Without a module for the IP (a call through a bad pointer, a smashed
    /// return) only [SP] and the slots above it can say where the thread came from, so the scan goes first.
    /// </summary>
    private Step Fallbacks(RegisterState regs, bool exactIp, (ulong Low, ulong High) bounds, bool inModule, List<string> reasons)
    {
        RegisterState? fp = null;
        string? fpWhy = null;
        if (inModule && _options.UseFramePointer)
        {
            fp = FramePointerStep(regs, bounds, out fpWhy);
            if (fp is not null && _options.UseScan)
            {
                ulong fpSlot = fp.Sp - (ulong)_pointerSize; // where the frame pointer frame's return address is
                var proven = ScanStep(regs, exactIp, bounds, out _, provenOnly: true, below: fpSlot);
                if (proven is not null) return new Step(proven, FrameTrust.Scan, false, null);
            }
            if (fp is not null) return new Step(fp, FrameTrust.FramePointer, false, null);
        }
        if (fpWhy is not null) reasons.Add($"the frame pointer chain: {fpWhy}");
        if (_options.UseScan)
        {
            var scanned = ScanStep(regs, exactIp, bounds, out string? why);
            if (scanned is not null) return new Step(scanned, FrameTrust.Scan, false, null);
            reasons.Add($"the stack scan: {why}");
        }
        if (!inModule && _options.UseFramePointer)
        {
            fp = FramePointerStep(regs, bounds, out fpWhy);
            if (fp is not null) return new Step(fp, FrameTrust.FramePointer, false, null);
            reasons.Add($"the frame pointer chain: {fpWhy}");
        }
        return Step.Stopped(Sentence(reasons));
    }

    /// <summary>
    /// The frame-pointer chain: the frame pointer points at the saved caller frame pointer, the return address is
    /// right above it, and the caller's stack pointer is above that.
    /// </summary>
    private RegisterState? FramePointerStep(RegisterState regs, (ulong Low, ulong High) bounds, out string? why)
    {
        ulong fp = regs.Fp;
        ulong p = (ulong)_pointerSize;
        if (fp < regs.Sp || fp % p != 0 || fp > bounds.High - 2 * p)
        {
            why = $"{(_x64 ? "rbp" : "ebp")} 0x{fp:x} is not a frame on this stack (0x{regs.Sp:x}..0x{bounds.High:x})";
            return null;
        }
        if (!ReadPointer(fp, out ulong savedFp) || !ReadPointer(fp + p, out ulong ret))
        {
            why = $"the frame at 0x{fp:x} is not in the dump";
            return null;
        }
        var caller = regs.Clone();
        caller.Ip = ret;
        caller.Sp = fp + 2 * p;
        caller.Fp = savedFp;
        caller.Known = 1 << RegisterState.Rsp | 1 << RegisterState.Rbp;
        why = Validate(caller, regs, bounds, requireCallSite: true);
        if (why is null && !LooksUnwindable(caller, bounds))
            why = $"the return address 0x{ret:x} at 0x{fp + p:x} leads to a frame that cannot be unwound further";
        return why is null ? caller : null;
    }

    /// <summary>The first stack slot at or above the stack pointer that holds a plausible return address.</summary>
    /// <param name="exactIp">The frame's IP is where the thread was (frame 0): a copy of it on the stack is stale, not a return address.</param>
    /// <param name="provenOnly">Accept only return addresses the code proves (a call right before them).</param>
    /// <param name="below">Examine only slots below this address.</param>
    private RegisterState? ScanStep(RegisterState regs, bool exactIp, (ulong Low, ulong High) bounds, out string? why,
        bool provenOnly = false, ulong below = ulong.MaxValue)
    {
        ulong p = (ulong)_pointerSize;
        int words = Math.Clamp(_options.ScanWords, 1, StackWalkOptions.ScanWordsLimit);
        ulong slot = regs.Sp;
        for (int i = 0; i < words && slot < below; i++, slot += p)
        {
            if (slot < regs.Sp || slot > bounds.High - p)
            {
                why = $"no return address between 0x{regs.Sp:x} and the top of the stack 0x{bounds.High:x}";
                return null;
            }
            if (!ReadPointer(slot, out ulong value))
            {
                why = $"no return address between 0x{regs.Sp:x} and 0x{slot:x}, where the dump's stack memory ends";
                return null;
            }
            if (value == 0 || (exactIp && value == regs.Ip) || !IsPlausibleReturnAddress(value, provenOnly)) continue;
            var caller = regs.Clone();
            caller.Ip = value;
            caller.Sp = slot + p;
            caller.Known = 1 << RegisterState.Rsp;
            // The caller's frame pointer: unchanged if it still points above this slot (a callee without a frame),
            // else the slot below the return address when that holds a frame-like value (a pushed frame pointer).
            if (regs.Fp < caller.Sp && slot >= regs.Sp + p && ReadPointer(slot - p, out ulong saved) &&
                saved >= caller.Sp && saved < bounds.High && saved % p == 0)
                caller.Fp = saved;
            if (!LooksUnwindable(caller, bounds)) continue;
            why = null;
            return caller;
        }
        why = $"no return address in the {words} slots above 0x{regs.Sp:x}";
        return null;
    }

    /// <summary>
    /// A look ahead for a frame found without unwind data (x64): when its module has unwind data, unwinding it once
    /// more must give a frame in a module (or the end of the stack). A stale return address left on the stack by an
    /// earlier call sits at the wrong stack depth, and its unwind lands outside the stack or outside every module.
    /// </summary>
    private bool LooksUnwindable(RegisterState frame, (ulong Low, ulong High) bounds)
    {
        if (!_x64 || _dump.ModuleAt(frame.Ip) is not { } module) return true;
        var image = _images.Get(module);
        if (image.Functions is not { } table) return true;
        uint rva = (uint)(frame.Ip - module.BaseAddress);
        var entry = table.Find(rva == 0 ? 0 : rva - 1);
        var attempt = entry is null ? X64Unwinder.Leaf(frame, ReadU64) : X64Unwinder.Unwind(image, entry.Value, rva, frame, ReadU64);
        if (attempt.Caller is not { } next) return false;
        if (next.Ip == 0) return next.Sp > frame.Sp;
        return next.Sp > frame.Sp && next.Sp <= bounds.High && _dump.ModuleAt(next.Ip) is not null;
    }

    /// <summary>Null when <paramref name="caller"/> is acceptable as the next frame; else what is wrong with it.</summary>
    private string? Validate(RegisterState caller, RegisterState callee, (ulong Low, ulong High) bounds, bool requireCallSite)
    {
        if (caller.Sp <= callee.Sp) return $"a stack pointer 0x{caller.Sp:x} that does not increase (from 0x{callee.Sp:x})";
        if (caller.Sp > bounds.High) return $"a stack pointer 0x{caller.Sp:x} above the top of the stack 0x{bounds.High:x}";
        if (caller.Ip == 0) return "a return address of 0";
        if (_dump.ModuleAt(caller.Ip) is null) return $"a return address 0x{caller.Ip:x} that is not in any module";
        if (requireCallSite && !IsPlausibleReturnAddress(caller.Ip)) return $"a return address 0x{caller.Ip:x} that does not follow a call";
        return null;
    }

    /// <summary>
    /// In a module; in an executable section when the headers are known; right after a call when the code is there
    /// (with <see cref="StackWalkOptions.ScanWithoutCode"/>, also when it is not).
    /// </summary>
    private bool IsPlausibleReturnAddress(ulong address, bool provenOnly = false)
    {
        if (!_x64 && address > uint.MaxValue) return false;
        var module = _dump.ModuleAt(address);
        if (module is null) return false;
        var image = _images.Get(module);
        // The image's section table; else what the file says of the mapping (an ELF core's PT_LOAD flags).
        bool? executable = image.IsExecutable(address) ?? _dump.IsExecutableMapping(address);
        if (executable == false) return false;
        // Without the section table, at least keep out the headers: a PE image's first page, the ELF/Mach-O header.
        if (executable is null && address - module.BaseAddress < (_dump.Platform == "Windows" ? 0x1000UL : 0x100UL)) return false;
        var verdict = CallSite.Check(address, _x64 ? 64 : 32, (a, buffer) =>
            _dump.ModuleAt(a) is { } m ? _images.Get(m).Read(a, buffer) : _dump.Memory.Read(a, buffer));
        return verdict switch
        {
            CallSiteVerdict.Call => true,
            CallSiteVerdict.NotCall => false,
            _ => _options.ScanWithoutCode && !provenOnly,
        };
    }

    private bool ReadU64(ulong address, out ulong value) => _dump.Memory.TryReadUInt64(address, out value);

    private bool ReadPointer(ulong address, out ulong value) => _dump.Memory.TryReadPointer(address, _pointerSize, out value);

    private static string Sentence(List<string> reasons)
    {
        if (reasons.Count == 0) return "No method found the caller's frame.";
        string text = string.Join("; ", reasons);
        return char.ToUpperInvariant(text[0]) + text[1..] + ".";
    }
}
