using System.Management.Automation;
using DumpShell.Analysis;
using DumpShell.Format.Minidump;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>
/// The default analysis (!analyze -v): one DumpAnalysis per dump, with the failure class, exception, faulting thread,
/// module and function, the frames that matter, every finding by severity, and a FailureBucket that groups a fleet.
/// -Path dumps stream through a batch (closed after their analysis unless the session had them open; -ThrottleLimit
/// runs several at once).
/// </summary>
[Cmdlet(VerbsCommon.Get, "DumpAnalysis", DefaultParameterSetName = PathSet)]
[OutputType(typeof(DumpAnalysis))]
public sealed class GetDumpAnalysisCommand : DumpCmdlet
{
    private DumpBatch? _batch;
    private PatternOptions _options = PatternOptions.Default;

    /// <summary>A symbol path for this call only (WinDbg syntax); otherwise Set-DumpSymbolPath's or _NT_SYMBOL_PATH.</summary>
    [Parameter]
    public string? SymbolPath { get; set; }

    /// <summary>Not My Thread and Unknown Component: extra folders whose modules count as "our product".</summary>
    [Parameter]
    public string[]? ProductPath { get; set; }

    /// <summary>Analyse up to this many -Path dumps at once (a worker pool inside the cmdlet); output keeps input order.</summary>
    [Parameter]
    [ValidateRange(1, 256)]
    public int ThrottleLimit { get; set; } = 1;

    protected override MinidumpStreamType[]? StreamsRead => null;

    protected override void BeginProcessing()
    {
        _options = new PatternOptions { ProductPaths = ProductPath ?? [] };
        if (ParameterSetName == PathSet)
            _batch = new DumpBatch(this, ThrottleLimit, SymbolSession.ResolveFolders(this, SymbolPath), (dump, symbols, output) =>
            {
                var failures = new List<DetectorFailure>();
                output.Objects.Add(DumpAnalyzer.Analyze(dump, _options, symbols, failures));
                foreach (var f in failures)
                    output.Errors.Add(new ErrorRecord(f.Exception, "DetectorFailed", ErrorCategory.NotSpecified, dump.Path) { ErrorDetails = new ErrorDetails(f.Message) });
            });
    }

    protected override void ProcessRecord()
    {
        if (_batch is null)
        {
            base.ProcessRecord();
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

    protected override void ProcessDump(Dump dump)
    {
        var symbols = SymbolSession.Current.For(dump, SymbolSession.ResolveFolders(this, SymbolPath));
        try
        {
            var failures = new List<DetectorFailure>();
            var analysis = DumpAnalyzer.Analyze(dump, _options, symbols, failures);
            foreach (var f in failures)
                WriteError(new ErrorRecord(f.Exception, "DetectorFailed", ErrorCategory.NotSpecified, dump.Path) { ErrorDetails = new ErrorDetails(f.Message) });
            WriteObject(analysis);
        }
        finally
        {
            if (SymbolPath is not null) symbols.Dispose();
        }
    }
}
