using DumpShell.Analysis.Detectors;
using DumpShell.Model;
using DumpShell.Model.Names;
using DumpShell.Symbols;

namespace DumpShell.Analysis;

/// <summary>Builds the <see cref="DumpAnalysis"/> of one dump: every detector, the exception stack, the frames that matter, the bucket.</summary>
public static class DumpAnalyzer
{
    /// <param name="symbols">The dump's symbols (kept by the caller); null loads them from <see cref="PatternOptions.SymbolPath"/>.</param>
    /// <param name="failures">Receives the detectors that failed (the analysis goes on without them).</param>
    public static DumpAnalysis Analyze(Dump dump, PatternOptions? options = null, DumpSymbols? symbols = null, IList<DetectorFailure>? failures = null,
        IEnumerable<IDetector>? detectors = null)
    {
        ArgumentNullException.ThrowIfNull(dump);
        options ??= PatternOptions.Default;
        using var context = new DetectorContext(dump, options, symbols);
        var findings = new List<Finding>();
        var failed = new List<string>();
        foreach (var r in PatternRunner.Run(context, detectors))
        {
            if (r.Finding is { } f) findings.Add(f);
            else if (r.Failure is { } x)
            {
                failed.Add(x.Pattern);
                failures?.Add(x);
            }
        }
        var ordered = findings.Select((f, i) => (f, i)).OrderByDescending(p => p.f.Severity).ThenBy(p => p.i).Select(p => p.f).ToArray();

        var e = dump.Platform == "Windows" || dump.Exception is not null ? dump.Exception : null;
        bool failure = e is not null && !ExceptionFacts.IsHarmless(e.Code) && !ExceptionFacts.IsBreakpoint(e.Code);
        IReadOnlyList<StackFrame> frames = failure ? context.ExceptionStack : [];
        if (frames.Count == 0 && !failure && context.MainThread is { } main) frames = context.StackOf(main);
        var matter = failure ? context.FramesThatMatter(frames).ToArray() : [];
        var faulting = matter.FirstOrDefault();
        // Nothing outside the OS and runtimes: the top frame itself (e.g. a fault inside ntdll with no caller found).
        if (failure && faulting is null && frames.Count > 0) faulting = frames[0];

        string failureClass;
        string bucket;
        // An unhandled managed exception (Managed Code Exception, Error) is the failure when the dump stores no other
        // (a createdump core), or stores the CLR's own exception code or abort: type and throwing method, no addresses.
        var managed = ordered.FirstOrDefault(f => f.Pattern == "Managed Code Exception" && !f.IsDataGap && f.Severity >= Severity.Error);
        bool managedWins = managed is not null &&
                           (!failure || e!.Code is 0xE0434352 or 0xE0434F4D || (dump.Platform != "Windows" && e.Code == 6) || e.ThreadId == managed.ThreadId);
        if (managedWins)
        {
            failureClass = "ClrException";
            bucket = "clr_" + managed!.Signature[(managed.Pattern.Length + 1)..].Replace('|', '_');
            if (!failure && managed.ThreadId is { } managedThread && dump.Threads.FirstOrDefault(t => t.Id == managedThread) is { } mt)
            {
                frames = context.StackOf(mt);
                matter = context.FramesThatMatter(frames).ToArray();
                faulting = matter.FirstOrDefault();
            }
        }
        else if (failure)
        {
            failureClass = ClassOf(e!.Code);
            bucket = $"{e.Code:x8}_{(faulting is not null ? context.FrameKey(faulting) : "no-frame")}";
        }
        else
        {
            var deadlock = ordered.FirstOrDefault(f => f.Pattern.StartsWith("Deadlock", StringComparison.Ordinal) && !f.IsDataGap);
            var chain = ordered.FirstOrDefault(f => f.Pattern.StartsWith("Wait Chain", StringComparison.Ordinal) && !f.IsDataGap && f.Severity >= Severity.Warning);
            var pick = deadlock ?? chain;
            failureClass = deadlock is not null ? "Deadlock" : chain is not null ? "Hang" : "NoException";
            string mainModule = dump.Modules.Count > 0 ? ModuleNames.DebuggerName(dump.Modules[0].Name).ToLowerInvariant() : "no-module";
            bucket = pick is not null
                ? $"{failureClass.ToLowerInvariant()}_{pick.Signature[(pick.Pattern.Length + 1)..]}"
                : $"{(e is not null && ExceptionFacts.IsBreakpoint(e.Code) ? "breakpoint" : "noexception")}_{mainModule}";
        }

        uint? faultingThread = managedWins ? managed!.ThreadId : e?.ThreadId;
        var thread = faultingThread is { } ft ? dump.Threads.FirstOrDefault(t => t.Id == ft) : null;
        var primary = ordered.FirstOrDefault(f => !f.IsDataGap && f.Severity > Severity.Info) ?? ordered.FirstOrDefault(f => !f.IsDataGap);
        var faultModule = faulting is not null ? dump.ModuleAt(faulting.InstructionPointer) : null;
        return new DumpAnalysis
        {
            DumpPath = dump.Path,
            FailureClass = failureClass,
            FailureBucket = bucket,
            ExceptionCode = e?.Code,
            ExceptionCodeName = e?.CodeName,
            ExceptionDescription = e?.Description,
            ExceptionAddress = e?.Address,
            ExceptionSymbol = e is null ? null : context.Symbols.Resolve(e.Address)?.Text ?? context.Where(e.Address),
            FaultingThreadId = faultingThread,
            FaultingThreadName = thread?.Name,
            FaultingModule = faultModule?.Name,
            FaultingFunction = faulting is null || faultModule is null ? null
                : faulting.Function is { } fn ? $"{ModuleNames.DebuggerName(faultModule.Name)}!{fn}"
                : $"{ModuleNames.DebuggerName(faultModule.Name)}+0x{faulting.InstructionPointer - faultModule.BaseAddress:x}",
            FaultingFrame = faulting is null ? null : context.FrameText(faulting),
            FaultingSource = faulting?.SourceFile is { } sf ? $"{sf}:{faulting.Line}" : null,
            FramesThatMatter = matter.Take(16).Select(context.FrameText).ToArray(),
            Frames = frames.Take(64).ToArray(),
            Findings = ordered,
            CriticalCount = ordered.Count(f => f.Severity == Severity.Critical),
            ErrorCount = ordered.Count(f => f.Severity == Severity.Error),
            WarningCount = ordered.Count(f => f.Severity == Severity.Warning),
            InfoCount = ordered.Count(f => f.Severity == Severity.Info),
            PrimaryPattern = primary?.Pattern,
            PrimaryEvidence = primary?.Evidence,
            Recommendation = primary?.Recommendation,
            FailedDetectors = failed.ToArray(),
            SymbolPath = context.Symbols.Store?.SymbolPath.ToString(),
            PointerSize = dump.PointerSize,
        };
    }

    /// <summary>The failure class of an exception code.</summary>
    public static string ClassOf(uint code) => code switch
    {
        0xC0000005 => "AccessViolation",
        0xC0000006 => "InPageError",
        0xC000001D => "IllegalInstruction",
        0xC0000096 => "PrivilegedInstruction",
        0xC0000094 or 0xC000008E => "DivideByZero",
        0xC0000095 => "IntegerOverflow",
        0xC00000FD => "StackOverflow",
        0xC0000374 => "HeapCorruption",
        0xC0000409 => "FailFast",
        0xC0000602 => "FailFast",
        0xC0000017 => "OutOfMemory",
        0xC0000008 => "InvalidHandle",
        ExceptionCodes.CppException => "CppException",
        0xE0434352 or 0xE0434F4D => "ClrException",
        0x80000003 or 0x4000001F => "Breakpoint",
        _ => "Exception",
    };
}
