using DumpShell.Machine;
using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell;

/// <summary>
/// The 32-bit side of a WOW64 process in an x64 dump (<see cref="IsWow64"/>): each thread's x86 context from the WOW64
/// save area, its 32-bit TEB and stack, and its 32-bit stack walk.
/// </summary>
/// <remarks>
/// <para>Where the 32-bit context is: the 64-bit TEB's TlsSlots[1] (WOW64_TLS_CPURESERVED; TlsSlots at TEB64+0x1480)
/// points to the CPU simulator's per-thread block (WOW64_CPURESERVED), whose x86 CONTEXT (WOW64_CONTEXT, 0x2CC bytes)
/// starts at offset 4: after an unnamed 4-byte field on Windows Vista to 8.1 (the WOW64_CONTEXT documentation: "Slot 1
/// of Thread Local Storage (TLS) holds a pointer to a structure that contains a WOW64_CONTEXT structure starting at
/// offset 4"), and after USHORT Flags and USHORT Machine on Windows 10 and later (the context is aligned for its
/// machine: 4 for x86). A block whose Machine names another guest (ARM32, ...) is not read as x86.</para>
/// <para>The 32-bit TEB is normally 0x2000 above the 64-bit one (the 64-bit NT_TIB.ExceptionList points to it as
/// well); it is used when it proves to be the thread's (NT_TIB.Self points to itself, or ClientId.UniqueThread is
/// the thread's id). Its NT_TIB gives the 32-bit stack's base and limit.</para>
/// <para>What the save area holds is the 32-bit state when the thread last left 32-bit code (a system call, an
/// exception being dispatched, the dump being taken), which is what WinDbg shows after <c>.effmach x86</c>.</para>
/// </remarks>
public sealed partial class Dump
{
    /// <summary>TEB64.TlsSlots[WOW64_TLS_CPURESERVED]: TlsSlots at 0x1480, slot 1.</summary>
    public const ulong Wow64CpuReservedSlotOffset = 0x1480 + 8;
    /// <summary>The x86 context's offset in the WOW64 CPU block.</summary>
    public const ulong Wow64ContextOffset = 4;
    /// <summary>Where the 32-bit TEB normally lies above the 64-bit one.</summary>
    public const ulong Wow64Teb32Offset = 0x2000;

    private const ushort MachineI386 = 0x14C;
    private const uint ContextI386 = 0x00010000;
    private const uint OtherContextArchitectures = 0x00100000 | 0x00200000 | 0x00400000; // AMD64, ARM, ARM64

    /// <summary>
    /// The address of <paramref name="thread"/>'s WOW64 CPU block (WOW64_CPURESERVED, from TEB64.TlsSlots[1]); null
    /// when this is not a WOW64 dump or the TEB's slot is not in the dump or empty.
    /// </summary>
    public ulong? Wow64CpuArea(DumpThread thread)
    {
        if (!IsWow64 || thread.Teb == 0) return null;
        if (!Memory.TryReadUInt64(thread.Teb + Wow64CpuReservedSlotOffset, out ulong area) || area == 0) return null;
        return area;
    }

    /// <summary>
    /// <paramref name="thread"/>'s 32-bit (x86) context from the WOW64 save area; null when this is not a WOW64 dump
    /// (an x64 dump with wow64.dll loaded), the thread has no save area in the dump, or what is there is not an x86
    /// context (another guest machine, another architecture's ContextFlags, EIP and ESP both 0).
    /// </summary>
    public CpuContext? Wow64Context(DumpThread thread)
    {
        if (Wow64CpuArea(thread) is not { } area) return null;
        var machine = new byte[2];
        if (Memory.Read(area + 2, machine) == 2)
        {
            ushort m = (ushort)(machine[0] | machine[1] << 8);
            if (m is not (0 or MachineI386)) return null;
        }
        var buffer = new byte[X86FullContextSize];
        int read = Memory.Read(area + Wow64ContextOffset, buffer);
        var context = CpuContext.Parse(CpuArchitecture.X86, buffer.AsSpan(0, read));
        if (context is null) return null;
        if ((context.ContextFlags & ContextI386) == 0 && (context.ContextFlags & OtherContextArchitectures) != 0) return null;
        if (context.InstructionPointer is null or 0 && context.StackPointer is null or 0) return null;
        return context;
    }

    /// <summary>
    /// The 32-bit TEB of a WOW64 thread (where the 64-bit NT_TIB.ExceptionList points, or TEB64 + 0x2000) when the dump
    /// holds it and it is the thread's; null otherwise. The same TEB the last-error and PEB readers use.
    /// </summary>
    public ulong? Wow64Teb32(DumpThread thread) => IsWow64 ? Wow64Teb(thread)?.Address : null;

    /// <summary>
    /// <paramref name="thread"/> as its 32-bit side: the registers, instruction, stack and frame pointers of its WOW64
    /// context, its 32-bit TEB and that TEB's stack bounds (StackBoundsSource "TEB32"), Architecture x86, PointerSize 4;
    /// everything else as the thread has it. Null when <see cref="Wow64Context"/> is. Walk it with
    /// <see cref="WalkStack(DumpThread, StackWalkOptions?)"/> or <see cref="WalkWow64Stack"/>.
    /// </summary>
    public DumpThread? Wow64Thread(DumpThread thread)
    {
        if (Wow64Context(thread) is not { } context) return null;
        ulong? teb32 = Wow64Teb32(thread);
        ulong? stackBase = null, stackLimit = null;
        if (teb32 is { } t && Memory.TryReadUInt32(t + 4, out uint b) && Memory.TryReadUInt32(t + 8, out uint l) && b > l)
        {
            stackBase = b;
            stackLimit = l;
        }
        return new DumpThread
        {
            DumpPath = thread.DumpPath,
            Index = thread.Index,
            Id = thread.Id,
            Name = thread.Name,
            Teb = teb32 ?? thread.Teb,
            SuspendCount = thread.SuspendCount,
            PriorityClass = thread.PriorityClass,
            Priority = thread.Priority,
            CreateTime = thread.CreateTime,
            Age = thread.Age,
            UserTime = thread.UserTime,
            KernelTime = thread.KernelTime,
            TotalCpuTime = thread.TotalCpuTime,
            StartAddress = thread.StartAddress,
            Affinity = thread.Affinity,
            ExitStatus = thread.ExitStatus,
            InstructionPointer = context.InstructionPointer,
            StackPointer = context.StackPointer,
            FramePointer = context.FramePointer,
            StackBase = stackBase,
            StackLimit = stackLimit,
            StackBoundsSource = stackBase is null ? null : "TEB32",
            IsExceptionThread = thread.IsExceptionThread,
            Spiking = thread.Spiking,
            Architecture = CpuArchitecture.X86,
            PointerSize = 4,
            Registers = context.Registers,
        };
    }

    /// <summary>
    /// Walks <paramref name="thread"/>'s 32-bit stack from its WOW64 context, within the 32-bit stack bounds, with the
    /// x86 walker (frame data when <paramref name="options"/> has it, the EBP chain, scanning); frames have PointerSize
    /// 4. Empty when the thread has no WOW64 context.
    /// </summary>
    public IReadOnlyList<StackFrame> WalkWow64Stack(DumpThread thread, StackWalkOptions? options = null) =>
        Wow64Thread(thread) is { } view ? StackWalker.Walk(this, view, options) : [];
}
