using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Last Error Collection: one summary of the distinct non-zero TEB.LastErrorValue and LastStatusValue values with their
/// names and thread ids, values on the exception and main threads first. Usually harmless values are counted, not
/// singled out. Warning when a serious value (invalid handle, access denied, out of memory or resources) is on the
/// exception or main thread.
/// </summary>
internal sealed class LastErrorCollectionDetector : IDetector
{
    public string Pattern => "Last Error Collection";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!dump.HasWindowsTebLayout) yield break;
        var all = dump.LastErrors;
        var read = all.Where(e => e.LastError is not null).ToArray();
        if (read.Length == 0)
        {
            yield return context.NotEvaluated(Pattern, "teb", "TEB pages not captured",
                "Capture with MiniDumpWithProcessThreadData or full memory (procdump -ma).");
            yield break;
        }

        var important = new HashSet<uint>();
        if (dump.Exception is { } ex) important.Add(ex.ThreadId);
        if (context.MainThread is { } main) important.Add(main.Id);

        var groups = new List<(string Text, uint[] Threads, bool Serious, string Key, ulong Order)>();
        var harmless = new List<string>();
        foreach (var g in read.Where(e => e.LastError != 0).GroupBy(e => e.LastError!.Value))
        {
            uint[] tids = g.Select(e => e.ThreadId).ToArray();
            var (name, message) = ErrorCodes.Win32Error(g.Key);
            if (ErrorCodes.HarmlessWin32.Contains(g.Key))
            {
                harmless.Add($"{ErrorCodes.FormatWin32(g.Key)} x{tids.Length}");
                continue;
            }
            string text = $"{Tids(tids)}: {ErrorCodes.FormatWin32(g.Key)}" + (message is null ? "" : $" ({message.TrimEnd('.')})");
            groups.Add((text, tids, ErrorCodes.SeriousWin32.Contains(g.Key), g.Key.ToString(), g.Key));
        }
        foreach (var g in read.Where(e => e.LastStatus is not null and not 0).GroupBy(e => e.LastStatus!.Value))
        {
            uint[] tids = g.Select(e => e.ThreadId).ToArray();
            if (ErrorCodes.HarmlessStatus.Contains(g.Key))
            {
                harmless.Add($"status {ErrorCodes.FormatStatus(g.Key)} x{tids.Length}");
                continue;
            }
            groups.Add(($"{Tids(tids)}: status {ErrorCodes.FormatStatus(g.Key)}", tids, ErrorCodes.SeriousStatus.Contains(g.Key), $"0x{g.Key:x8}", 0x1_0000_0000UL + g.Key));
        }
        if (groups.Count == 0 && harmless.Count == 0) yield break;

        var ordered = groups.OrderByDescending(g => g.Threads.Any(important.Contains)).ThenBy(g => g.Order).ToArray();
        var parts = ordered.Select(g => g.Text).ToList();
        if (harmless.Count > 0) parts.Add("usually harmless: " + string.Join(", ", harmless));
        int zero = read.Count(e => e.LastError == 0 && e.LastStatus is null or 0);
        if (zero > 0) parts.Add($"{zero} thread{(zero == 1 ? "" : "s")}: 0");
        int missing = all.Count - read.Length;
        if (missing > 0) parts.Add($"{missing} thread{(missing == 1 ? "" : "s")}: TEB not captured");

        var seriousImportant = ordered.Where(g => g.Serious && g.Threads.Any(important.Contains)).ToArray();
        string key = groups.Count > 0 ? string.Join(",", groups.OrderBy(g => g.Order).Select(g => g.Key)) : "harmless-only";
        yield return context.Create(Pattern, seriousImportant.Length > 0 ? Severity.Warning : Severity.Info, string.Join("; ", parts), key,
            threadId: seriousImportant.FirstOrDefault().Threads?.FirstOrDefault(important.Contains),
            recommendation: "A last error says something failed at some time, not what caused the incident; Get-DumpLastError -NonZero lists them per thread.");
    }

    private static string Tids(uint[] tids) => string.Join(",", tids.Select(t => $"0x{t:x}"));
}
