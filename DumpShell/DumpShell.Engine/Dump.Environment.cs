using System.Text;
using DumpShell.Machine;
using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell;

/// <summary>
/// Field offsets of the TEB, PEB and RTL_USER_PROCESS_PARAMETERS (Windows 10/11; the table of
/// ../shared/docs/patterns.md "TEB, PEB and process parameters").
/// </summary>
internal sealed record WindowsLayout(
    int PointerSize,
    // TEB
    int TebSelf, int TebClientIdThread, int TebPeb, int TebLastError, int TebWin32ThreadInfo, int TebLastStatus, int TebDeallocationStack,
    // PEB
    int PebBeingDebugged, int PebImageBase, int PebLdr, int PebProcessParameters, int PebProcessHeap, int PebNtGlobalFlag,
    int PebNumberOfHeaps, int PebProcessHeaps, int PebSessionId,
    // RTL_USER_PROCESS_PARAMETERS
    int ParamsFlags, int ParamsCurrentDirectory, int ParamsDllPath, int ParamsImagePathName, int ParamsCommandLine, int ParamsEnvironment,
    int ParamsWindowTitle, int ParamsEnvironmentSize,
    // PEB_LDR_DATA.InLoadOrderModuleList; LDR_DATA_TABLE_ENTRY
    int LdrInLoadOrder, int EntryDllBase, int EntryEntryPoint, int EntrySizeOfImage, int EntryFullDllName, int EntryBaseDllName)
{
    public static readonly WindowsLayout X64 = new(8,
        TebSelf: 0x30, TebClientIdThread: 0x48, TebPeb: 0x60, TebLastError: 0x68, TebWin32ThreadInfo: 0x78, TebLastStatus: 0x1250,
        TebDeallocationStack: 0x1478,
        PebBeingDebugged: 0x02, PebImageBase: 0x10, PebLdr: 0x18, PebProcessParameters: 0x20, PebProcessHeap: 0x30, PebNtGlobalFlag: 0xBC,
        PebNumberOfHeaps: 0xE8, PebProcessHeaps: 0xF0, PebSessionId: 0x2C0,
        ParamsFlags: 0x08, ParamsCurrentDirectory: 0x38, ParamsDllPath: 0x50, ParamsImagePathName: 0x60, ParamsCommandLine: 0x70,
        ParamsEnvironment: 0x80, ParamsWindowTitle: 0xB0, ParamsEnvironmentSize: 0x3F0,
        LdrInLoadOrder: 0x10, EntryDllBase: 0x30, EntryEntryPoint: 0x38, EntrySizeOfImage: 0x40, EntryFullDllName: 0x48, EntryBaseDllName: 0x58);

    public static readonly WindowsLayout X86 = new(4,
        TebSelf: 0x18, TebClientIdThread: 0x24, TebPeb: 0x30, TebLastError: 0x34, TebWin32ThreadInfo: 0x40, TebLastStatus: 0xBF4,
        TebDeallocationStack: 0xE0C,
        PebBeingDebugged: 0x02, PebImageBase: 0x08, PebLdr: 0x0C, PebProcessParameters: 0x10, PebProcessHeap: 0x18, PebNtGlobalFlag: 0x68,
        PebNumberOfHeaps: 0x88, PebProcessHeaps: 0x90, PebSessionId: 0x1D4,
        ParamsFlags: 0x08, ParamsCurrentDirectory: 0x24, ParamsDllPath: 0x30, ParamsImagePathName: 0x38, ParamsCommandLine: 0x40,
        ParamsEnvironment: 0x48, ParamsWindowTitle: 0x70, ParamsEnvironmentSize: 0x290,
        LdrInLoadOrder: 0x0C, EntryDllBase: 0x18, EntryEntryPoint: 0x1C, EntrySizeOfImage: 0x20, EntryFullDllName: 0x24, EntryBaseDllName: 0x2C);
}

/// <summary>A thread's TEB as the detectors need it: which TEB, and its fields (null where not captured).</summary>
internal sealed record TebView(
    DumpThread Thread, ulong Address, WindowsLayout Layout, bool IsWow64Teb,
    ulong? Peb, uint? LastError, uint? LastStatus, ulong? DeallocationStack, ulong? Win32ThreadInfo);

public sealed partial class Dump
{
    /// <summary>The environment block is read up to this size at most (its double NUL normally ends it far sooner).</summary>
    internal const int MaxEnvironmentBytes = 1 << 20;
    private const int MaxUnicodeStringBytes = 0xFFFF;
    private const int MaxLoaderEntries = 4096;
    private const int MaxHeaps = 1024;

    private IReadOnlyList<ProcessEnvironment>? _environments;
    private IReadOnlyList<TebView>? _tebs;
    private IReadOnlyList<DumpLastError>? _lastErrors;
    private object? _environmentLock;
    private bool _environmentsBuilt, _tebsBuilt, _lastErrorsBuilt;

    /// <summary>True when this dump can have a TEB and PEB: a Windows dump of an x64 or x86 process.</summary>
    public bool HasWindowsTebLayout => Platform == "Windows" && Architecture is CpuArchitecture.X64 or CpuArchitecture.X86;

    private WindowsLayout NativeLayout => Architecture == CpuArchitecture.X86 ? WindowsLayout.X86 : WindowsLayout.X64;

    /// <summary>
    /// The process environment blocks (!peb) found through the threads' TEBs: the native PEB first and, for a WOW64
    /// process, the 32-bit PEB second. Empty when no thread's TEB or the PEB it points to is in the dump.
    /// </summary>
    public IReadOnlyList<ProcessEnvironment> ProcessEnvironments =>
        LazyInitializer.EnsureInitialized(ref _environments, ref _environmentsBuilt, ref _environmentLock, BuildEnvironments)!;

    /// <summary>The program's own PEB: the 32-bit one of a WOW64 process when it was found, else the native one.</summary>
    public ProcessEnvironment? ProcessEnvironment =>
        ProcessEnvironments.FirstOrDefault(e => e.IsWow64Peb) ?? ProcessEnvironments.FirstOrDefault();

    /// <summary>Each thread's TEB LastErrorValue and LastStatusValue (!gle -all), in ThreadList order; empty for dumps without TEBs (not Windows x64/x86).</summary>
    public IReadOnlyList<DumpLastError> LastErrors =>
        LazyInitializer.EnsureInitialized(ref _lastErrors, ref _lastErrorsBuilt, ref _environmentLock, BuildLastErrors)!;

    /// <summary>Each thread's TEB (the 32-bit TEB for WOW64 threads when it validates), in ThreadList order.</summary>
    internal IReadOnlyList<TebView> Tebs =>
        LazyInitializer.EnsureInitialized(ref _tebs, ref _tebsBuilt, ref _environmentLock, BuildTebs)!;

    /// <summary>The native (64-bit for WOW64) TEB view of a thread; null when its TEB is not in the dump or does not belong to it.</summary>
    internal TebView? NativeTeb(DumpThread thread) => HasWindowsTebLayout ? ReadTeb(thread, thread.Teb, NativeLayout, false) : null;

    private IReadOnlyList<TebView> BuildTebs()
    {
        var list = new List<TebView>();
        if (!HasWindowsTebLayout) return list;
        bool wow64 = IsWow64;
        foreach (var t in Threads)
        {
            TebView? view = null;
            if (wow64) view = Wow64Teb(t);
            view ??= ReadTeb(t, t.Teb, NativeLayout, false);
            if (view is not null) list.Add(view);
        }
        return list;
    }

    /// <summary>
    /// A TEB whose memory is in the dump and that belongs to the thread: NT_TIB.Self points to itself or
    /// ClientId.UniqueThread is the thread's id. Fields whose bytes are missing are null.
    /// </summary>
    private TebView? ReadTeb(DumpThread thread, ulong teb, WindowsLayout l, bool wow64)
    {
        if (teb == 0) return null;
        int p = l.PointerSize;
        bool selfOk = Memory.TryReadPointer(teb + (ulong)l.TebSelf, p, out ulong self) && self == teb;
        bool idOk = Memory.TryReadPointer(teb + (ulong)l.TebClientIdThread, p, out ulong tid) && tid == thread.Id;
        if (!selfOk && !idOk) return null;
        ulong? Ptr(int offset) => Memory.TryReadPointer(teb + (ulong)offset, p, out ulong v) ? v : null;
        uint? U32(int offset) => Memory.TryReadUInt32(teb + (ulong)offset, out uint v) ? v : null;
        return new TebView(thread, teb, l, wow64, Ptr(l.TebPeb), U32(l.TebLastError), U32(l.TebLastStatus), Ptr(l.TebDeallocationStack),
            Ptr(l.TebWin32ThreadInfo));
    }

    /// <summary>
    /// The 32-bit TEB of a WOW64 thread (also <see cref="Wow64Teb32"/>): the 64-bit TEB's NT_TIB.ExceptionList points to
    /// it, and it normally sits <see cref="Wow64Teb32Offset"/> above the 64-bit TEB. A candidate is used only when it
    /// validates (Self or ClientId) as a 32-bit TEB; the pointer the TEB holds is tried before the usual offset.
    /// </summary>
    private TebView? Wow64Teb(DumpThread t)
    {
        if (t.Teb == 0) return null;
        var candidates = new List<ulong>(2);
        if (Memory.TryReadUInt64(t.Teb, out ulong fromTib) && fromTib is > 0 and <= uint.MaxValue) candidates.Add(fromTib);
        if (t.Teb + Wow64Teb32Offset <= uint.MaxValue && !candidates.Contains(t.Teb + Wow64Teb32Offset))
            candidates.Add(t.Teb + Wow64Teb32Offset);
        foreach (ulong c in candidates)
            if (ReadTeb(t, c, WindowsLayout.X86, true) is { } view)
                return view;
        return null;
    }

    private IReadOnlyList<DumpLastError> BuildLastErrors()
    {
        if (!HasWindowsTebLayout) return [];
        var byThread = Tebs.ToDictionary(v => v.Thread.Id);
        var list = new List<DumpLastError>(Threads.Count);
        foreach (var t in Threads)
        {
            byThread.TryGetValue(t.Id, out var teb);
            uint? error = teb?.LastError, status = teb?.LastStatus;
            var (name, message) = error is { } e ? ErrorCodes.Win32Error(e) : (null, null);
            list.Add(new DumpLastError
            {
                DumpPath = Path,
                PointerSize = teb?.Layout.PointerSize ?? PointerSize,
                ThreadId = t.Id,
                ThreadIndex = t.Index,
                ThreadName = t.Name,
                Teb = teb?.Address ?? t.Teb,
                LastError = error,
                LastErrorName = name,
                Message = message,
                LastStatus = status,
                LastStatusName = status is { } s ? ErrorCodes.StatusName(s) : null,
                IsHarmless = (error is null or 0 || ErrorCodes.HarmlessWin32.Contains(error.Value)) &&
                             (status is null or 0 || ErrorCodes.HarmlessStatus.Contains(status.Value)),
            });
        }
        return list;
    }

    private IReadOnlyList<ProcessEnvironment> BuildEnvironments()
    {
        var list = new List<ProcessEnvironment>();
        if (!HasWindowsTebLayout) return list;
        // The native PEB from the first thread whose TEB validates and points to a readable PEB.
        foreach (var t in Threads)
        {
            if (ReadTeb(t, t.Teb, NativeLayout, false) is { Peb: { } peb and not 0 } teb && Memory.Contains(peb))
            {
                list.Add(ReadPeb(peb, teb.Address, NativeLayout, false));
                break;
            }
        }
        if (IsWow64)
        {
            foreach (var t in Threads)
            {
                if (Wow64Teb(t) is { Peb: { } peb32 and not 0 } teb32 && Memory.Contains(peb32))
                {
                    list.Add(ReadPeb(peb32, teb32.Address, WindowsLayout.X86, true));
                    break;
                }
            }
        }
        return list;
    }

    private ProcessEnvironment ReadPeb(ulong peb, ulong teb, WindowsLayout l, bool wow64)
    {
        int p = l.PointerSize;
        var unavailable = new List<string>();
        ulong? Ptr(ulong at, string field)
        {
            if (Memory.TryReadPointer(at, p, out ulong v)) return v;
            unavailable.Add(field);
            return null;
        }
        uint? U32(ulong at, string field)
        {
            if (Memory.TryReadUInt32(at, out uint v)) return v;
            unavailable.Add(field);
            return null;
        }

        Span<byte> one = stackalloc byte[1];
        bool? beingDebugged = Memory.Read(peb + (ulong)l.PebBeingDebugged, one) == 1 ? one[0] != 0 : null;
        if (beingDebugged is null) unavailable.Add("BeingDebugged");
        ulong? imageBase = Ptr(peb + (ulong)l.PebImageBase, "ImageBaseAddress");
        ulong? ldr = Ptr(peb + (ulong)l.PebLdr, "Ldr");
        ulong? parameters = Ptr(peb + (ulong)l.PebProcessParameters, "ProcessParameters");
        ulong? processHeap = Ptr(peb + (ulong)l.PebProcessHeap, "ProcessHeap");
        uint? globalFlag = U32(peb + (ulong)l.PebNtGlobalFlag, "NtGlobalFlag");
        uint? heapCount = U32(peb + (ulong)l.PebNumberOfHeaps, "NumberOfHeaps");
        ulong? heapArray = Ptr(peb + (ulong)l.PebProcessHeaps, "ProcessHeaps");
        uint? sessionId = U32(peb + (ulong)l.PebSessionId, "SessionId");

        List<ulong>? heaps = null;
        if (heapCount is { } n && heapArray is { } array and not 0)
        {
            heaps = [];
            for (uint i = 0; i < Math.Min(n, (uint)MaxHeaps); i++)
            {
                if (!Memory.TryReadPointer(array + i * (ulong)p, p, out ulong h)) break;
                heaps.Add(h);
            }
            if (heaps.Count < Math.Min(n, (uint)MaxHeaps)) unavailable.Add("ProcessHeaps (part)");
        }

        string? imagePath = null, commandLine = null, currentDirectory = null, dllPath = null, windowTitle = null;
        ulong? environmentAddress = null;
        long? environmentSize = null;
        bool truncated = false;
        IReadOnlyList<EnvironmentVariable>? variables = null;
        if (parameters is { } pp and not 0)
        {
            if (!Memory.Contains(pp))
            {
                unavailable.Add("ProcessParameters (RTL_USER_PROCESS_PARAMETERS not captured)");
            }
            else
            {
                // Parameters not yet normalized hold offsets from the structure instead of pointers.
                bool normalized = !Memory.TryReadUInt32(pp + (ulong)l.ParamsFlags, out uint flags) || (flags & 1) != 0;
                string? Str(int offset, string field)
                {
                    string? s = ReadUnicodeString(pp + (ulong)offset, l, normalized ? 0 : pp);
                    if (s is null) unavailable.Add(field);
                    return s;
                }
                currentDirectory = Str(l.ParamsCurrentDirectory, "CurrentDirectory");
                dllPath = Str(l.ParamsDllPath, "DllPath");
                imagePath = Str(l.ParamsImagePathName, "ImagePathName");
                commandLine = Str(l.ParamsCommandLine, "CommandLine");
                windowTitle = Str(l.ParamsWindowTitle, "WindowTitle");
                if (Memory.TryReadPointer(pp + (ulong)l.ParamsEnvironment, p, out ulong env) && env != 0)
                {
                    if (!normalized && env < 0x10000) env += pp;
                    environmentAddress = env;
                    // EnvironmentSize (Vista+) bounds the scan when the structure is long enough to hold it and the value is sane.
                    int bound = MaxEnvironmentBytes;
                    if (Memory.TryReadUInt32(pp + 4, out uint length) && length >= l.ParamsEnvironmentSize + p &&
                        Memory.TryReadPointer(pp + (ulong)l.ParamsEnvironmentSize, p, out ulong declared) && declared is > 0 and < MaxEnvironmentBytes)
                        bound = (int)declared + 2;
                    (variables, environmentSize, truncated) = ReadEnvironmentBlock(env, bound);
                    if (variables is null) unavailable.Add("Environment");
                }
                else
                {
                    unavailable.Add("Environment");
                }
            }
        }

        IReadOnlyList<LoaderModule>? loaderModules = ldr is { } ld and not 0 ? ReadLoaderList(ld, l) : null;
        if (loaderModules is null) unavailable.Add("LoaderModules");

        return new ProcessEnvironment
        {
            DumpPath = Path,
            PointerSize = p,
            IsWow64Peb = wow64,
            PebAddress = peb,
            TebAddress = teb,
            BeingDebugged = beingDebugged,
            ImageBaseAddress = imageBase,
            LoaderData = ldr,
            ProcessParametersAddress = parameters,
            ProcessHeap = processHeap,
            NumberOfHeaps = heapCount,
            ProcessHeaps = heaps,
            NtGlobalFlag = globalFlag,
            NtGlobalFlagNames = globalFlag is { } g ? GlobalFlags.Describe(g) : null,
            SessionId = sessionId,
            ImagePathName = imagePath,
            CommandLine = commandLine,
            CurrentDirectory = currentDirectory,
            DllPath = dllPath,
            WindowTitle = windowTitle,
            EnvironmentAddress = environmentAddress,
            EnvironmentSize = environmentSize,
            EnvironmentTruncated = truncated,
            Environment = variables,
            LoaderModules = loaderModules,
            Unavailable = unavailable,
        };
    }

    /// <summary>A UNICODE_STRING at <paramref name="at"/>; "" for an empty one; null when the structure or its buffer is not captured.</summary>
    private string? ReadUnicodeString(ulong at, WindowsLayout l, ulong relativeTo = 0)
    {
        Span<byte> header = stackalloc byte[16];
        int size = l.PointerSize == 8 ? 16 : 8;
        if (Memory.Read(at, header[..size]) < size) return null;
        var r = new Format.ByteReader(header[..size]);
        int length = r.U16(0) & ~1;
        ulong buffer = r.Pointer(l.PointerSize == 8 ? 8 : 4, l.PointerSize);
        if (length == 0) return "";
        if (buffer == 0) return null;
        if (relativeTo != 0 && buffer < 0x10000) buffer += relativeTo;
        var bytes = new byte[Math.Min(length, MaxUnicodeStringBytes)];
        return Memory.Read(buffer, bytes) == bytes.Length ? Encoding.Unicode.GetString(bytes) : null;
    }

    /// <summary>
    /// The NAME=value strings of an environment block, up to its empty string (the double NUL), reading at most
    /// <paramref name="bound"/> bytes. Null when not even its first bytes are captured.
    /// </summary>
    private (IReadOnlyList<EnvironmentVariable>? Variables, long? Size, bool Truncated) ReadEnvironmentBlock(ulong address, int bound)
    {
        var text = new StringBuilder();
        var chunk = new byte[4096];
        bool ended = false;
        long read = 0;
        while (read < bound && !ended)
        {
            int want = (int)Math.Min(chunk.Length, bound - read) & ~1;
            if (want == 0) break;
            int got = Memory.Read(address + (ulong)read, chunk.AsSpan(0, want)) & ~1;
            if (got == 0) break;
            for (int i = 0; i < got; i += 2)
            {
                char c = (char)(chunk[i] | (chunk[i + 1] << 8));
                // The block ends with an empty string: a NUL right after a NUL (or at the very start).
                if (c == '\0' && (text.Length == 0 || text[^1] == '\0'))
                {
                    read += i + 2;
                    ended = true;
                    break;
                }
                text.Append(c);
            }
            if (!ended) read += got;
            if (got < want) break;
        }
        if (read == 0) return (null, null, false);

        var variables = new List<EnvironmentVariable>();
        foreach (string entry in text.ToString().Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            // Hidden per-drive entries look like "=C:=C:\dir": the name starts with '='.
            int eq = entry.IndexOf('=', entry.StartsWith('=') ? 1 : 0);
            variables.Add(eq < 0 ? new EnvironmentVariable(entry, "") : new EnvironmentVariable(entry[..eq], entry[(eq + 1)..]));
        }
        return (variables, ended ? read : null, !ended);
    }

    /// <summary>PEB_LDR_DATA.InLoadOrderModuleList; null when the list head is not in the dump.</summary>
    private IReadOnlyList<LoaderModule>? ReadLoaderList(ulong ldr, WindowsLayout l)
    {
        int p = l.PointerSize;
        ulong head = ldr + (ulong)l.LdrInLoadOrder;
        if (!Memory.TryReadPointer(head, p, out ulong link)) return null;
        var modules = new List<LoaderModule>();
        var seen = new HashSet<ulong>();
        while (link != head && link != 0 && modules.Count < MaxLoaderEntries && seen.Add(link))
        {
            // InLoadOrderLinks is the entry's first field, so the link is the entry.
            if (!Memory.TryReadPointer(link + (ulong)l.EntryDllBase, p, out ulong dllBase)) return modules.Count > 0 ? modules : null;
            Memory.TryReadPointer(link + (ulong)l.EntryEntryPoint, p, out ulong entryPoint);
            Memory.TryReadUInt32(link + (ulong)l.EntrySizeOfImage, out uint sizeOfImage);
            modules.Add(new LoaderModule(dllBase, sizeOfImage, entryPoint,
                ReadUnicodeString(link + (ulong)l.EntryBaseDllName, l), ReadUnicodeString(link + (ulong)l.EntryFullDllName, l)));
            if (!Memory.TryReadPointer(link, p, out link)) break;
        }
        return modules;
    }
}
