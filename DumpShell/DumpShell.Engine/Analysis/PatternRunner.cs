using DumpShell.Model;

namespace DumpShell.Analysis;

/// <summary>Runs detectors over a dump, one after the other, isolating failures.</summary>
public static class PatternRunner
{
    /// <summary>
    /// Runs <paramref name="detectors"/> (default: every built-in detector) over <paramref name="dump"/> and streams the
    /// results detector by detector. A detector that throws yields one <see cref="DetectorFailure"/> naming itself
    /// (and none of the findings it made before failing); the detectors after it still run.
    /// </summary>
    /// <param name="symbols">The dump's loaded symbols (kept by the caller); null loads them from <see cref="PatternOptions.SymbolPath"/>.</param>
    public static IEnumerable<PatternResult> Run(Dump dump, IEnumerable<IDetector>? detectors = null, PatternOptions? options = null,
        Symbols.DumpSymbols? symbols = null)
    {
        ArgumentNullException.ThrowIfNull(dump);
        using var context = new DetectorContext(dump, options ?? PatternOptions.Default, symbols);
        foreach (var result in Run(context, detectors)) yield return result;
    }

    /// <summary>Runs detectors with a context the caller made (and may reuse, e.g. Get-DumpAnalysis reads its stacks afterwards).</summary>
    public static IEnumerable<PatternResult> Run(DetectorContext context, IEnumerable<IDetector>? detectors = null)
    {
        var dump = context.Dump;
        foreach (var detector in detectors ?? BuiltInDetectors.All)
        {
            List<Finding>? findings = null;
            DetectorFailure? failure = null;
            try
            {
                findings = [.. detector.Run(dump, context)];
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failure = new DetectorFailure
                {
                    Pattern = SafeName(detector), Detector = detector.GetType().Name, DumpPath = dump.Path, Exception = e,
                };
            }
            if (failure is not null)
            {
                yield return new PatternResult(null, failure);
                continue;
            }
            foreach (var finding in findings!) yield return new PatternResult(finding, null);
        }
    }

    /// <summary>Only the findings of <see cref="Run"/> (failures dropped): for engine callers that do not report them.</summary>
    public static IEnumerable<Finding> Findings(Dump dump, IEnumerable<IDetector>? detectors = null, PatternOptions? options = null,
        Symbols.DumpSymbols? symbols = null) =>
        Run(dump, detectors, options, symbols).Where(r => r.Finding is not null).Select(r => r.Finding!);

    private static string SafeName(IDetector detector)
    {
        try
        {
            return detector.Pattern;
        }
        catch (Exception)
        {
            return detector.GetType().Name;
        }
    }
}
