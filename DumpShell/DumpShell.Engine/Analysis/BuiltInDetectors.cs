using DumpShell.Analysis.Detectors;

namespace DumpShell.Analysis;

/// <summary>The detectors this build has, one per pattern, in the order Invoke-DumpPattern runs them.</summary>
public static class BuiltInDetectors
{
    /// <summary>Every built-in detector: dump-level facts first, then threads, resources and exceptions.</summary>
    public static IReadOnlyList<IDetector> All { get; } =
    [
        new ManualDumpDetector(),
        new VirtualizedProcessWow64Detector(),
        new EmbeddedCommentsDetector(),
        new InstrumentationInformationDetector(),
        new PlatformSpecificDebuggerDetector(),
        new EnvironmentHintDetector(),
        new NotMyVersionDetector(),
        new ThreadAgeDetector(),
        new SpikingThreadDetector(),
        new LastErrorCollectionDetector(),
        new HandleLeakDetector(),
        new MemoryLeakDetector(),
        new StoredExceptionDetector(),
        new MultipleExceptionsDetector(),
        new NullPointerDataDetector(),
        new NullPointerCodeDetector(),
        new InvalidPointerDetector(),
        new WildCodeDetector(),
        new DivideByZeroDetector(),
        new CppExceptionDetector(),
        new StackOverflowDetector(),
        new LocalBufferOverflowDetector(),
        new ExceptionStackTraceDetector(),
        new ExceptionModuleDetector(),
        new HiddenExceptionDetector(),
        new DynamicMemoryCorruptionDetector(),
        new DoubleFreeDetector(),
        new LanguageSpecificSubtraceRustDetector(),
        new MainThreadDetector(),
        new ActiveThreadDetector(),
        new PassiveThreadDetector(),
        new BlockedThreadDetector(),
        new NotMyThreadDetector(),
        new InputThreadDetector(),
        new MessageBoxDetector(),
        new BlockingModuleDetector(),
        new UnknownComponentDetector(),
        new IncorrectStackTraceDetector(),
        new TruncatedStackTraceDetector(),
        new ExecutionResidueDetector(),
        new CoincidentalSymbolicInformationDetector(),
        new ReducedSymbolicInformationDetector(),
        new WaitChainCriticalSectionsDetector(),
        new DeadlockCriticalSectionsDetector(),
        new WaitChainGeneralDetector(),
        new DeadlockMixedObjectsDetector(),
        new ClrThreadDetector(),
        new ManagedCodeExceptionDetector(),
        new ManagedStackTraceDetector(),
        new JitCodeDotNetDetector(),
    ];

    /// <summary>The built-in detector of a pattern (canonical name, alias or detector id), or null.</summary>
    public static IDetector? For(string nameOrAlias) =>
        PatternCatalog.Find(nameOrAlias) is { } p ? All.FirstOrDefault(d => d.Pattern == p.Name) : null;
}
