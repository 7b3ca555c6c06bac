using DumpShell.Model;

namespace DumpShell.Analysis;

/// <summary>One row of the catalogue as written in <c>PatternCatalog.Data.cs</c>.</summary>
internal sealed record PatternEntry(
    string Name, string Category, PatternKind Kind, string? DetectorId, string ShownBy, string Exercises, string Description,
    params string[] Aliases);

/// <summary>
/// The patterns of ../shared/docs/patterns.md (names, categories, kinds, aliases) and the detectors this build has.
/// The data is embedded (see PatternCatalog.Data.cs); the document itself is not shipped.
/// </summary>
public static partial class PatternCatalog
{
    private const string NoDetector = "No detector in this build yet.";

    /// <summary>What the detectors of this build leave out, by pattern (shown as PatternInfo.Note).</summary>
    private static readonly Dictionary<string, string> Notes = new(StringComparer.Ordinal)
    {
        ["Manual Dump (Process)"] = "The break-in check uses the Exception stream (breakpoint in ntdll); the unhandled-exception and self-dump-writer frame checks need stack traces.",
        ["Spiking Thread"] = "The thread's current state (active or idle now) needs the thread classifier, so severity stays Warning and past spikes are not told apart.",
        ["Multiple Exceptions (User Mode)"] = "Reports chained (nested) exception records of the Exception stream; threads in exception dispatch need stack traces.",
        ["Stored Exception"] = "The consistency check finds the stored thread in ThreadList; its dispatch frames need stack traces.",
        ["C++ Exception"] = "ThrowInfo is read from dump memory, and from the module's image file on the symbol path for read-only data the dump lacks; handled/unhandled is not told apart from frames (a stored exception is Error).",
        ["Stack Overflow (User Mode)"] = "The recursion is the shortest frame cycle on the unwound stack (function names with symbols, module+RVA without); the repeated return address in stack memory is the fallback.",
        ["NULL Pointer (Data)"] = "The faulting instruction is shown only when its bytes are in the dump.",
        ["NULL Pointer (Code)"] = "The caller is the return address at [SP]; its call instruction is shown only when its bytes are in the dump.",
        ["Divide by Zero (User Mode)"] = "The faulting instruction is shown only when its bytes are in the dump.",
        ["Wild Code"] = "Checks the exception address against modules and MemoryInfoList; an active thread's IP and JIT code need the stack walker and ClrMD.",
        ["Local Buffer Overflow (User Space)"] = "The GS case uses the exception code; __report_gsfailure frames need stack traces.",
        ["Last Error Collection"] = "Important threads are the exception thread and the main thread (entry point, creation time or first thread); blocked threads need the thread classifier.",
        ["Memory Leak (Process Heap)"] = "Heap share uses PEB.ProcessHeaps allocation bases only (no heap walk); -Compare across dumps is not implemented.",
        ["Handle Leak"] = "-Compare across dumps and handle-trace stacks are not implemented.",
        ["Dynamic Memory Corruption (Process Heap)"] = "Heap frames are recognised by name only: an access violation in ntdll without ntdll names (Wine dumps) gives Not evaluated; the heap-failure record (failure type) is not read.",
        ["Double Free (Process Heap)"] = "Only verifier double-free stops on the stack; the heap-failure record type needs ntdll symbols and is not read.",
        ["Main Thread"] = "Error when the main thread is in a wait chain or deadlock is left to those detectors' findings.",
        ["Passive Thread (User Space)"] = "Threads whose top frame is in an unnamed system module (no ntdll/win32u names) are not classified and are named in one Not evaluated finding.",
        ["Blocked Thread (Software)"] = "Wait objects (handles, critical sections) are not recovered; threads in a wait chain are not singled out. Unnamed wait functions give Not evaluated.",
        ["Blocking Module"] = "Wait-chain membership (b) and service-control threads are not checked.",
        ["Message Box"] = "Text is recovered from UTF-16 strings near the MessageBox frame; frames in unnamed user32/comctl32 give Not evaluated.",
        ["Incorrect Stack Trace"] = "module+RVA and far-export frames are left to Reduced Symbolic Information; JIT code is not recognised.",
        ["Truncated Stack Trace"] = "A walk that ends at a return address of 0 is complete (the bottom of its call chain).",
        ["Unknown Component"] = "The main executable is never reported (it is the process itself); resource strings beyond CompanyName/FileDescription are not read.",
        ["Hidden Exception (User Space)"] = "Records are found by scanning stack memory (from SP, or from StackLimit in full-memory dumps); critical-section ownership of the thread is not checked.",
        ["Reduced Symbolic Information"] = "Symbol types are None, Exports, Breakpad .sym or PDB (public and private PDBs are not told apart).",
        ["Platform-Specific Debugger"] = "Names the runtime, the DAC's key and whether the DAC loads on this host (Info either way, with the remedy when it does not); the single-file DotNetRuntimeInfo export and WOW64 are not checked.",
        ["CLR Thread"] = "Counts by role and a busy finalizer (a Finalize method on its stack); threads waiting for a GC behind a blocked GC thread are not checked. Timer kind comes from the thread name '.NET Timer'.",
        ["Managed Code Exception"] = "Handled and unhandled are not told apart by ClrMD: the failure is the stored thread's exception, or the only thread with one when the dump stores none (createdump cores).",
        ["Managed Stack Trace"] = "Threads that matter are the exception threads and the main thread; blocked/active classification of managed threads is not used.",
        ["JIT Code (.NET)"] = "Exception IP and each thread's top frame only (not every frame); the JIT tier is not read.",
    };

    private static readonly Lazy<IReadOnlyList<PatternInfo>> PatternsLazy = new(BuildPatterns);
    private static readonly Lazy<Dictionary<string, PatternInfo>> ByNameLazy = new(BuildIndex);

    /// <summary>Every pattern of the catalogue, in the summary table's order (by name).</summary>
    public static IReadOnlyList<PatternInfo> Patterns => PatternsLazy.Value;

    /// <summary>The pattern with this canonical name, alias or detector id (case-insensitive), or null.</summary>
    public static PatternInfo? Find(string nameOrAlias) =>
        ByNameLazy.Value.TryGetValue(nameOrAlias.Trim(), out var info) ? info : null;

    /// <summary>The category of a canonical pattern name; throws for an unknown name (a detector bug).</summary>
    public static string CategoryOf(string pattern) =>
        Find(pattern)?.Category ?? throw new ArgumentException($"'{pattern}' is not a pattern of the catalogue.", nameof(pattern));

    /// <summary>Every name -Name accepts for the pattern: canonical name, aliases and detector id.</summary>
    public static IEnumerable<string> NamesOf(PatternInfo pattern)
    {
        yield return pattern.Name;
        foreach (string alias in pattern.Aliases) yield return alias;
        if (pattern.DetectorId is { } id) yield return id;
    }

    private static IReadOnlyList<PatternInfo> BuildPatterns()
    {
        var detected = BuiltInDetectors.All.Select(d => d.Pattern).ToHashSet(StringComparer.Ordinal);
        return Entries.Select(e => new PatternInfo
        {
            Name = e.Name,
            Category = e.Category,
            Kind = e.Kind,
            Description = e.Description,
            Detected = detected.Contains(e.Name),
            DetectorId = e.DetectorId,
            ShownBy = e.ShownBy,
            Exercises = e.Exercises,
            Aliases = e.Aliases,
            Note = Notes.TryGetValue(e.Name, out string? note) ? (note.Length == 0 ? null : note)
                : e.Kind != PatternKind.Detect || detected.Contains(e.Name) ? null
                : NoDetector,
        }).ToArray();
    }

    private static Dictionary<string, PatternInfo> BuildIndex()
    {
        var index = new Dictionary<string, PatternInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in Patterns)
            foreach (string name in NamesOf(p))
                index.TryAdd(name, p);
        return index;
    }
}
