using System.Runtime.CompilerServices;
using DumpShell.Model;
using Microsoft.Diagnostics.Runtime;

namespace DumpShell.Managed;

/// <summary>What a dump offers of managed code: no CLR, a CLR whose DAC cannot be had here, or a runtime to read.</summary>
public enum ManagedStatus
{
    NoClr,
    DacNotAvailable,
    Ready,
}

/// <summary>Why a dump's managed data cannot be read on this host: the runtime's version and what to do.</summary>
public sealed record DacFailure(string DumpPath, string RuntimeModule, string? RuntimeVersion, string Message, string Remedy)
{
    public override string ToString() => $"{Message} {Remedy}";
}

/// <summary>
/// One dump's CLR as ClrMD sees it through <see cref="DumpDataReader"/>: the runtime module, the DAC, and the
/// <see cref="ClrRuntime"/>, each made once, on first use, and cached alongside the <see cref="Dump"/> (per DAC
/// choice) until <see cref="Release"/> disposes them. A dump without a CLR costs one look at its module list.
/// </summary>
public sealed partial class ClrSession : IDisposable
{
    private sealed class PerDump
    {
        public readonly Dictionary<string, ClrSession> ByDac = new(StringComparer.Ordinal);
    }

    private static readonly ConditionalWeakTable<Dump, PerDump> Sessions = new();

    /// <summary>
    /// Where ClrMD may cache downloaded files (only used on Windows, for its symbol-server DAC download); null uses
    /// DUMPSHELL_CLRMD_CACHE, else ClrMD's default. Off Windows ClrMD never downloads: it is given a local-only file locator.
    /// </summary>
    public static string? SymbolCachePath { get; set; }

    private readonly object _lock = new();
    private readonly Lazy<ClrRuntimeModule?> _module;
    private DacResolution? _dac;
    private DataTarget? _target;
    private ClrRuntime? _runtime;
    private DacFailure? _failure;
    private bool _created;
    private bool _disposed;

    public Dump Dump { get; }
    /// <summary>The DAC the user gave (-DacPath), or null to find one.</summary>
    public string? UserDacPath { get; }

    private ClrSession(Dump dump, string? userDacPath)
    {
        Dump = dump;
        UserDacPath = userDacPath;
        _module = new(() => ClrRuntimeModule.Find(dump));
    }

    /// <summary>The session of <paramref name="dump"/> for a DAC choice (null: found on this host), made on first use.</summary>
    public static ClrSession For(Dump dump, string? userDacPath = null)
    {
        ArgumentNullException.ThrowIfNull(dump);
        var perDump = Sessions.GetValue(dump, _ => new PerDump());
        string key = userDacPath is null ? "" : Path.GetFullPath(userDacPath);
        lock (perDump)
        {
            if (!perDump.ByDac.TryGetValue(key, out var session) || session._disposed)
                perDump.ByDac[key] = session = new ClrSession(dump, userDacPath is null ? null : key);
            return session;
        }
    }

    /// <summary>Disposes the ClrMD objects made for <paramref name="dump"/>; call it when the dump is closed.</summary>
    public static void Release(Dump dump)
    {
        if (!Sessions.TryGetValue(dump, out var perDump)) return;
        ClrSession[] sessions;
        lock (perDump)
        {
            sessions = perDump.ByDac.Values.ToArray();
            perDump.ByDac.Clear();
        }
        Sessions.Remove(dump);
        foreach (var s in sessions) s.Dispose();
    }

    /// <summary>The runtime module the dump names, or null for a process without a CLR.</summary>
    public ClrRuntimeModule? RuntimeModule => _module.Value;

    public ManagedStatus Status
    {
        get
        {
            if (RuntimeModule is null) return ManagedStatus.NoClr;
            return Runtime is null ? ManagedStatus.DacNotAvailable : ManagedStatus.Ready;
        }
    }

    /// <summary>Where the DAC is or why there is none; null without a CLR.</summary>
    public DacResolution? Dac
    {
        get
        {
            if (RuntimeModule is not { } module) return null;
            lock (_lock) return _dac ??= DacLocator.Resolve(Dump, module, UserDacPath);
        }
    }

    /// <summary>Why the runtime cannot be read (null when it can, or when there is no CLR).</summary>
    public DacFailure? Failure
    {
        get
        {
            _ = Runtime;
            return _failure;
        }
    }

    /// <summary>The runtime, created on first use; null without a CLR or when the DAC cannot be had (see <see cref="Failure"/>).</summary>
    public ClrRuntime? Runtime
    {
        get
        {
            if (RuntimeModule is not { } module) return null;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (!_created)
                {
                    _created = true;
                    Create(module);
                }
                return _runtime;
            }
        }
    }

    private void Create(ClrRuntimeModule module)
    {
        var dac = Dac!;
        if (!dac.Found)
        {
            _failure = new DacFailure(Dump.Path, module.Module.Name, module.Version, dac.Failure!, dac.Remedy!);
            return;
        }
        try
        {
            var limits = new DataTargetLimits();
            var options = new DataTargetOptions { Limits = limits };
            bool download = dac.DacPath is null; // Windows: ClrMD's own, signature-checked download
            if (download)
            {
                if ((SymbolCachePath ?? Environment.GetEnvironmentVariable("DUMPSHELL_CLRMD_CACHE")) is { } cache)
                    options.SymbolCachePath = cache;
            }
            else
            {
                options.FileLocator = new LocalFileLocator();
                options.SymbolPaths = [];
            }
            _target = new DataTarget(new DumpDataReader(Dump, limits), options);
            var info = _target.ClrVersions.FirstOrDefault(c => c.ModuleInfo.ImageBase == module.Module.BaseAddress)
                       ?? _target.ClrVersions.FirstOrDefault();
            if (info is null)
            {
                _failure = new DacFailure(Dump.Path, module.Module.Name, module.Version,
                    $"{Dump.Path} names {module.DisplayVersion} ({module.Module.Name} at 0x{module.Module.BaseAddress:x}), but the dump does not hold enough of the runtime module's image for ClrMD to read the runtime.",
                    "Take a dump that includes the runtime's module memory (createdump/procdump -ma, DOTNET_DbgMiniDumpType=2 or 4).");
                return;
            }
            _runtime = dac.DacPath is null ? info.CreateRuntime() : info.CreateRuntime(dac.DacPath, ignoreMismatch: true);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _failure = new DacFailure(Dump.Path, module.Module.Name, module.Version,
                $"The DAC for {module.DisplayVersion} in {Dump.Path} could not be loaded{(dac.DacPath is null ? "" : $" from {dac.DacPath}")}: {e.Message}",
                dac.HowFound == DacLocator.HowUser
                    ? $"Give -DacPath the {DacLocator.DacFileName(module.Platform)} of that very runtime build, built for this host."
                    : $"Give -DacPath the {DacLocator.DacFileName(module.Platform)} of that runtime build, or analyse the dump where that runtime is installed.");
            _target?.Dispose();
            _target = null;
        }
    }

    // ------------------------------------------------------------------------------------------- queries

    /// <summary>!eeversion: the runtime's facts. Null when <see cref="Runtime"/> is.</summary>
    public ClrRuntimeInfo? GetRuntimeInfo()
    {
        if (Runtime is not { } runtime) return null;
        var module = RuntimeModule!;
        var dac = Dac!;
        var heap = runtime.Heap;
        var info = runtime.ClrInfo;
        string? clrmdVersion = info.Version is { Major: > 0 } v ? v.ToString() : null;
        return new ClrRuntimeInfo
        {
            DumpPath = Dump.Path,
            Flavor = info.Flavor.ToString(),
            Version = module.Version ?? clrmdVersion,
            RuntimeModule = module.Module.Path ?? module.Module.Name,
            RuntimeModuleBase = module.Module.BaseAddress,
            RuntimeModuleBuildId = module.Module.BuildId?.ToLowerInvariant(),
            DacPath = dac.DacPath,
            DacFoundBy = dac.HowFound ?? "",
            GCMode = heap.IsServer ? "Server" : "Workstation",
            HeapCount = heap.SubHeaps.Length,
            CanWalkHeap = heap.CanWalkHeap,
            ThreadCount = runtime.Threads.Length,
            AppDomains = runtime.AppDomains.Select(d => d.Name ?? $"AppDomain {d.Id}").ToArray(),
            PointerSize = Dump.PointerSize,
        };
    }

    /// <summary>!pe on each thread: the current exception of every managed thread that has one.</summary>
    public IEnumerable<ManagedException> CurrentExceptions()
    {
        if (Runtime is not { } runtime) yield break;
        foreach (var thread in runtime.Threads)
        {
            ClrException? current;
            try { current = thread.CurrentException; }
            catch (Exception) { continue; }
            if (current is null) continue;
            yield return Convert(current, thread, 0);
        }
    }

    /// <summary>!pe &lt;address&gt;: the exception object at an address; null when no exception object is there.</summary>
    public ManagedException? ExceptionAt(ulong address)
    {
        if (Runtime is not { } runtime) return null;
        var obj = runtime.Heap.GetObject(address);
        if (!obj.IsValid || !obj.IsException) return null;
        return obj.AsException() is { } e ? Convert(e, null, 0) : null;
    }

    private const int MaxInnerDepth = 32;

    private ManagedException Convert(ClrException e, ClrThread? thread, int depth)
    {
        var frames = new List<ManagedFrame>();
        string source = "Exception";
        try
        {
            foreach (var f in e.StackTrace) frames.Add(FrameOf(f));
        }
        catch (Exception)
        {
            // A stack trace array the dump does not hold: the frames stay empty.
        }
        if (frames.Count == 0 && thread is not null)
        {
            // The exception's own trace is not in the dump: the throwing thread's managed stack stands in for it.
            try
            {
                foreach (var f in thread.EnumerateStackTrace()) if (f.Method is not null) frames.Add(FrameOf(f));
                if (frames.Count > 0) source = "Thread";
            }
            catch (Exception)
            {
            }
        }
        ManagedException? inner = null;
        if (depth < MaxInnerDepth)
        {
            try
            {
                if (e.Inner is { } i && i.Address != e.Address) inner = Convert(i, null, depth + 1);
            }
            catch (Exception)
            {
            }
        }
        return new ManagedException
        {
            DumpPath = Dump.Path,
            Address = e.Address,
            Type = e.Type?.Name ?? "<unknown type>",
            Message = SafeMessage(e),
            HResult = e.HResult,
            ThreadId = thread?.OSThreadId,
            ManagedThreadId = thread?.ManagedThreadId,
            Depth = depth,
            Frames = frames,
            StackTrace = frames.Where(f => !f.Method.StartsWith('[')).Select(f => f.Method).ToArray(),
            StackTraceSource = source,
            InnerException = inner,
            PointerSize = Dump.PointerSize,
        };
    }

    private static string? SafeMessage(ClrException e)
    {
        try { return e.Message; }
        catch (Exception) { return null; }
    }

    internal static ManagedFrame FrameOf(ClrStackFrame f) => new()
    {
        InstructionPointer = f.InstructionPointer,
        StackPointer = f.StackPointer,
        Method = f.Method is { } m ? $"{m.Type?.Name}.{m.Name}" : $"[{f.FrameName ?? f.Kind.ToString()}]",
        Signature = f.Method?.Signature,
        Module = f.Method?.Type?.Module?.Name is { } mod ? System.IO.Path.GetFileName(mod) : null,
    };

    /// <summary>
    /// !dumpheap -stat: one line per type (Count, TotalSize), smallest total first as SOS prints it. Walks the heap
    /// once, holding one counter per type: memory grows with the number of types, not of objects.
    /// </summary>
    public IReadOnlyList<HeapTypeStatistics> HeapStatistics(Func<string, bool>? typeFilter = null, ulong minSize = 0, CancellationToken cancel = default)
    {
        if (Runtime is not { } runtime) return [];
        var heap = runtime.Heap;
        var counts = new Dictionary<ulong, (ClrType? Type, long Count, ulong Size)>();
        long seen = 0;
        foreach (var obj in heap.EnumerateObjects())
        {
            if ((++seen & 0xFFFF) == 0) cancel.ThrowIfCancellationRequested();
            ulong size = obj.Size;
            if (size < minSize) continue;
            var type = obj.Type;
            ulong mt = type?.MethodTable ?? 0;
            counts.TryGetValue(mt, out var entry);
            counts[mt] = (type ?? entry.Type, entry.Count + 1, entry.Size + size);
        }
        return counts
            .Select(kv => new HeapTypeStatistics
            {
                DumpPath = Dump.Path,
                MethodTable = kv.Key,
                Type = TypeName(kv.Value.Type),
                Count = kv.Value.Count,
                TotalSize = kv.Value.Size,
                PointerSize = Dump.PointerSize,
            })
            .Where(s => typeFilter is null || typeFilter(s.Type))
            .OrderBy(s => s.TotalSize).ThenBy(s => s.Count).ThenBy(s => s.Type, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>!dumpheap: every object, streamed lazily as the heap is walked.</summary>
    public IEnumerable<HeapObject> HeapObjects(Func<string, bool>? typeFilter = null, ulong minSize = 0)
    {
        if (Runtime is not { } runtime) yield break;
        var heap = runtime.Heap;
        foreach (var obj in heap.EnumerateObjects())
        {
            ulong size = obj.Size;
            if (size < minSize) continue;
            string type = TypeName(obj.Type);
            if (typeFilter is not null && !typeFilter(type)) continue;
            var segment = heap.GetSegmentByAddress(obj.Address);
            yield return new HeapObject
            {
                DumpPath = Dump.Path,
                Address = obj.Address,
                MethodTable = obj.Type?.MethodTable ?? 0,
                Type = type,
                Size = size,
                Generation = segment?.GetGeneration(obj.Address).ToString(),
                Segment = segment?.Address ?? 0,
                IsFree = obj.IsFree,
                PointerSize = Dump.PointerSize,
            };
        }
    }

    private static string TypeName(ClrType? type) => type is null ? "<unknown type>" : type.IsFree ? "Free" : type.Name ?? $"<type 0x{type.MethodTable:x}>";

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            try { _runtime?.Dispose(); } catch (Exception) { }
            try { _target?.Dispose(); } catch (Exception) { }
            _runtime = null;
            _target = null;
        }
    }
}
