using DumpShell.Format.Elf;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

/// <summary>
/// The model of a Linux ELF core file (<see cref="ElfCore"/>): threads from NT_PRSTATUS, modules from NT_FILE,
/// the signal from NT_SIGINFO and pr_cursig, process facts from NT_PRPSINFO and the auxiliary vector. Each builder
/// here is the ELF counterpart of a minidump one in the other partials; the constructor picks one per format.
/// </summary>
public sealed partial class Dump
{
    private IReadOnlyList<DumpThread> BuildElfThreads(ElfCoreFile core)
    {
        var signaled = core.SignaledThread;
        var threads = new List<DumpThread>(core.Threads.Count);
        foreach (var t in core.Threads)
        {
            var context = ElfContext(t);
            var (stackBase, stackLimit, source) = ElfStackBounds(core, t.Registers.StackPointer);
            threads.Add(new DumpThread
            {
                DumpPath = Path,
                Index = t.Index,
                Id = (uint)t.ThreadId,
                UserTime = t.UserTime,
                KernelTime = t.SystemTime,
                TotalCpuTime = t.UserTime + t.SystemTime,
                InstructionPointer = context.InstructionPointer,
                StackPointer = context.StackPointer,
                FramePointer = context.FramePointer,
                StackBase = stackBase,
                StackLimit = stackLimit,
                StackBoundsSource = source,
                IsExceptionThread = ReferenceEquals(t, signaled),
                Architecture = Architecture,
                PointerSize = PointerSize,
                Registers = context.Registers,
            });
        }
        return threads;
    }

    /// <summary>
    /// A thread's registers under the names the rest of DumpShell uses: x86_64 as in a CONTEXT (rip, rsp, rbp, ...,
    /// "efl" for the kernel's "eflags"; orig_rax, fs_base and gs_base kept as they are); aarch64 x0..x28, fp (x29),
    /// lr (x30), sp, pc and cpsr (pstate).
    /// </summary>
    internal CpuContext ElfContext(ElfThread thread)
    {
        var registers = new Dictionary<string, ulong>(StringComparer.OrdinalIgnoreCase);
        var names = thread.Registers.Names;
        var values = thread.Registers.Values;
        for (int i = 0; i < names.Count; i++)
        {
            string name = names[i] switch
            {
                "eflags" => "efl",
                "x29" => "fp",
                "x30" => "lr",
                "pstate" => "cpsr",
                var n => n,
            };
            registers[name] = values[i];
        }
        return CpuContext.FromRegisters(Architecture, registers);
    }

    /// <summary>
    /// A core has no TEB: the stack is the PT_LOAD segment that holds the stack pointer (the kernel and createdump
    /// write a thread's stack mapping as one segment), when the core captured it.
    /// </summary>
    private static (ulong? Base, ulong? Limit, string? Source) ElfStackBounds(ElfCoreFile core, ulong? sp)
    {
        if (sp is not { } at || core.SegmentAt(at) is not { } segment || !core.Memory.Contains(at)) return (null, null, null);
        return (segment.EndAddress, segment.VirtualAddress, "StackMemory");
    }

    private DumpModule BuildElfModule(ElfModule m, int index) => new()
    {
        DumpPath = Path,
        Index = index,
        BaseAddress = m.BaseAddress,
        Size = (uint)Math.Min(m.Size, uint.MaxValue),
        PointerSize = PointerSize,
        Name = m.Name,
        Path = m.Path,
        // Upper-case hex, as for Breakpad's build ids in minidumps.
        BuildId = m.BuildId.IsDefaultOrEmpty ? null : Convert.ToHexString(m.BuildId.AsSpan()),
        CodeViewFormat = m.BuildId.IsDefaultOrEmpty ? null : "GNU build id",
        IsUnloaded = false,
    };

    /// <summary>
    /// The signal the core was written for, as an exception: Code is the signal number (as Breakpad writes it), Flags
    /// si_code, Address the faulting address (si_addr) for a fault and the signaled thread's instruction pointer
    /// otherwise. Null for a core taken on request (no thread has a signal).
    /// </summary>
    private DumpException? BuildElfException(ElfCoreFile core)
    {
        var thread = core.SignaledThread;
        var info = core.SignalInfo;
        if (thread is null && info is null) return null;
        int signal = info?.Signal ?? thread!.Signal;
        int signalCode = info?.Code ?? thread!.SignalCode;
        var context = thread is null ? null : ElfContext(thread);
        ulong? ip = context?.InstructionPointer;
        var (name, meaning) = ExceptionCodes.Describe((uint)signal, Platform);
        name ??= ElfSignals.NameOf(signal);
        if (info?.FaultAddress is { } fault) meaning = $"{meaning.TrimEnd('.')}: accessing 0x{fault:x}.";
        if (info?.SenderProcessId is { } sender && sender != 0) meaning += $" Sent by process {sender}.";
        ulong codeAddress = ip ?? 0;
        return new DumpException
        {
            DumpPath = Path,
            ThreadId = (uint)(thread?.ThreadId ?? 0),
            PointerSize = PointerSize,
            Code = (uint)signal,
            CodeName = name,
            Description = meaning,
            Flags = (uint)signalCode,
            Address = info?.FaultAddress ?? codeAddress,
            AddressSymbol = Describe(codeAddress),
            Module = ModuleAt(codeAddress)?.Name,
            Parameters = [],
            TargetAddress = info?.FaultAddress,
            InstructionPointer = ip,
            StackPointer = context?.StackPointer,
            FramePointer = context?.FramePointer,
            ContextRegisters = context?.Registers,
        };
    }

    private DumpInfo GetElfInfo(ElfCoreFile core)
    {
        var exception = Exception;
        var main = core.MainModule;
        var ps = core.ProcessInfo;
        TimeSpan user = TimeSpan.Zero, system = TimeSpan.Zero;
        foreach (var t in core.Threads)
        {
            user += t.UserTime;
            system += t.SystemTime;
        }
        return new DumpInfo
        {
            DumpPath = Path,
            FileSize = core.File.Length,
            DumpType = ["ElfCore"],
            // createdump marks its cores GNU/Linux (EI_OSABI 3); the kernel writes System V (0).
            Writer = core.OsAbi == 3 ? "createdump" : "Linux kernel",
            DumpTime = null,
            Platform = Platform,
            Architecture = Architecture,
            ProcessId = core.ProcessId is { } pid and >= 0 ? (uint)pid : null,
            ImageName = main?.Name ?? (string.IsNullOrEmpty(ps?.FileName) ? null : ps.FileName),
            ImagePath = main?.Path,
            ProcessUserTime = core.Threads.Count > 0 ? user : null,
            ProcessKernelTime = core.Threads.Count > 0 ? system : null,
            ThreadCount = core.Threads.Count,
            ModuleCount = Modules.Count,
            MemoryRangeCount = Memory.RangeCount,
            MemoryBytes = Memory.TotalBytes,
            Streams = core.Notes.Select(n => n.TypeName).Distinct().ToArray(),
            Comments = [],
            LastEvent = exception is null
                ? "No signal: a core taken on request, not at a crash."
                : $"{exception.CodeName} on thread 0x{exception.ThreadId:x} ({exception.ThreadId}) at 0x{exception.InstructionPointer ?? exception.Address:x}" +
                  (exception.AddressSymbol is { } s ? $" ({s})" : "") + $": {exception.Description}",
        };
    }

    /// <summary>An ELF core's notes as streams: Type is the note type (NT_*), Rva its data's file offset (clipped to 32 bits).</summary>
    private IEnumerable<DumpStream> ElfStreams(ElfCoreFile core) => core.Notes.Select(n => new DumpStream
    {
        DumpPath = Path, Index = n.Index, Type = n.Type, Name = n.TypeName, Size = (uint)n.DataSize,
        Rva = (uint)Math.Min(n.DataOffset, uint.MaxValue),
    });

    /// <summary>
    /// Whether <paramref name="address"/> lies in memory the process could execute, from what the file records of its
    /// mappings: an ELF core's PT_LOAD flags. Null when unknown (minidumps: the walker judges by the image's sections).
    /// </summary>
    internal bool? IsExecutableMapping(ulong address) =>
        ElfCore?.SegmentAt(address) is { } segment ? (segment.Flags & ElfSegmentFlags.Execute) != 0 : null;
}
