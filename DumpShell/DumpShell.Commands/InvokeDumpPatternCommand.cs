using System.Management.Automation;
using DumpShell.Analysis;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// Runs pattern detectors over dumps and streams their findings (the catalogue of ../shared/docs/patterns.md). A detector
/// that fails writes one ErrorRecord (DetectorFailed) naming itself; the other detectors and dumps go on.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "DumpPattern", DefaultParameterSetName = PathSet)]
[OutputType(typeof(Finding))]
public sealed class InvokeDumpPatternCommand : DumpCmdlet
{
    private IReadOnlyList<IDetector> _detectors = [];
    private PatternOptions _options = PatternOptions.Default;

    /// <summary>Run only these patterns (canonical names, aliases or detector ids; wildcards allowed).</summary>
    [Parameter]
    [Alias("Pattern")]
    [SupportsWildcards]
    public string[]? Name { get; set; }

    /// <summary>Run only the patterns of these categories; wildcards allowed.</summary>
    [Parameter]
    [SupportsWildcards]
    public string[]? Category { get; set; }

    /// <summary>Run every detector (the same as leaving out -Name and -Category), written out for clarity in scripts.</summary>
    [Parameter]
    public SwitchParameter All { get; set; }

    /// <summary>Drop findings below this severity. Warning also hides the "Not evaluated:" data-gap findings (they are Info).</summary>
    [Parameter]
    public Severity MinimumSeverity { get; set; } = Severity.Info;

    /// <summary>Not My Version: a CSV or JSON file of Module,MinVersion[,MaxVersion] rows.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Baseline { get; set; }

    /// <summary>Memory Leak: private commit at or above this many bytes is suspicious (default 2 GiB for 64-bit processes).</summary>
    [Parameter]
    [ValidateRange(1, long.MaxValue)]
    public long LeakThreshold { get; set; }

    /// <summary>Handle Leak: a handle count at or above this is suspicious (default 10,000; half of it for one type).</summary>
    [Parameter]
    [ValidateRange(2, int.MaxValue)]
    public int HandleThreshold { get; set; }

    /// <summary>Environment Hint: variables expected in this process (no Warning for them), e.g. __COMPAT_LAYER.</summary>
    [Parameter]
    public string[]? ExpectedVariable { get; set; }

    /// <summary>More detectors to run besides the selected built-in ones: objects implementing DumpShell.Analysis.IDetector.</summary>
    [Parameter]
    public IDetector[]? Detector { get; set; }

    /// <summary>A symbol path for this call only (WinDbg syntax); otherwise Set-DumpSymbolPath's or _NT_SYMBOL_PATH. The stack detectors name frames with it.</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    /// <summary>Not My Thread and Unknown Component: extra folders whose modules count as "our product".</summary>
    [Parameter]
    public string[]? ProductPath { get; set; }

    /// <summary>Analyse up to this many -Path dumps at once (a worker pool inside the cmdlet); output keeps input order.</summary>
    [Parameter]
    [ValidateRange(1, 256)]
    public int ThrottleLimit { get; set; } = 1;

    private DumpBatch? _batch;

    protected override MinidumpStreamType[]? StreamsRead => null;

    protected override void BeginProcessing()
    {
        bool filtered = !All && (Name is { Length: > 0 } || Category is { Length: > 0 });
        var patterns = filtered ? PatternSelection.Select(this, Name, Category) : PatternCatalog.Patterns;
        var detectors = new List<IDetector>();
        foreach (var pattern in patterns)
        {
            if (BuiltInDetectors.For(pattern.Name) is { } d) detectors.Add(d);
            else if (filtered && Name is { Length: > 0 })
                WriteWarning(pattern.Kind == PatternKind.Detect
                    ? $"'{pattern.Name}' has no detector in this build. {pattern.Note}"
                    : $"'{pattern.Name}' is a {pattern.Kind.ToString().ToLowerInvariant()} pattern: a person decides, with {pattern.ShownBy}.");
        }
        if (Detector is not null) detectors.AddRange(Detector.Where(d => d is not null));
        _detectors = detectors;

        IReadOnlyList<VersionBaselineEntry>? baseline = null;
        if (Baseline is not null)
        {
            string file = GetUnresolvedProviderPathFromPSPath(Baseline);
            try
            {
                baseline = VersionBaseline.Load(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or System.Text.Json.JsonException)
            {
                ThrowTerminatingError(new ErrorRecord(e, "BaselineUnreadable", ErrorCategory.InvalidData, file));
            }
        }
        _options = new PatternOptions
        {
            Baseline = baseline,
            LeakThreshold = MyInvocation.BoundParameters.ContainsKey(nameof(LeakThreshold)) ? (ulong)LeakThreshold : null,
            HandleThreshold = MyInvocation.BoundParameters.ContainsKey(nameof(HandleThreshold)) ? HandleThreshold : null,
            ExpectedVariables = ExpectedVariable ?? [],
            ProductPaths = ProductPath ?? [],
        };
        if (ParameterSetName == PathSet && _detectors.Count > 0)
            _batch = new DumpBatch(this, ThrottleLimit, SymbolSession.ResolveFolders(this, SymbolPath), (dump, symbols, output) =>
            {
                foreach (var result in PatternRunner.Run(dump, _detectors, _options, symbols))
                {
                    if (result.Failure is { } failure) output.Errors.Add(Failed(failure, dump));
                    else if (result.Finding is { } finding && finding.Severity >= MinimumSeverity) output.Objects.Add(finding);
                }
            });
    }

    /// <summary>-Path: each file through the batch (streamed, closed after its findings unless the session had it open); -Dump: as every cmdlet.</summary>
    protected override void ProcessRecord()
    {
        if (_batch is null)
        {
            if (ParameterSetName == DumpSet) base.ProcessRecord();
            return;
        }
        foreach (string path in Path) _batch.Add(path);
    }

    protected override void EndProcessing()
    {
        _batch?.Complete();
        _batch?.Dispose();
    }

    protected override void StopProcessing() => _batch?.Dispose();

    private static ErrorRecord Failed(DetectorFailure failure, Dump dump) =>
        new(failure.Exception, "DetectorFailed", ErrorCategory.NotSpecified, dump.Path) { ErrorDetails = new ErrorDetails(failure.Message) };

    protected override void ProcessDump(Dump dump)
    {
        if (_detectors.Count == 0) return;
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        try
        {
            foreach (var result in PatternRunner.Run(dump, _detectors, _options, symbols))
            {
                if (result.Failure is { } failure) WriteError(Failed(failure, dump));
                else if (result.Finding is { } finding && finding.Severity >= MinimumSeverity) WriteObject(finding);
            }
        }
        finally
        {
            if (SymbolPath is not null) symbols.Dispose();
        }
    }
}
