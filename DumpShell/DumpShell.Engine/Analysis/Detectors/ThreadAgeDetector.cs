using System.Globalization;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Thread Age: one summary of the process uptime, the oldest and youngest threads, the threads created in the last
/// 60 s (a burst: at least 10 and at least 25 % of all threads), and the CPU-to-age ratio of the busiest thread.
/// Create times later than the dump, or more than 2 s before the process, make the data unreliable, and it says so.
/// </summary>
internal sealed class ThreadAgeDetector : IDetector
{
    private static readonly TimeSpan Recent = TimeSpan.FromSeconds(60);

    public string Pattern => "Thread Age";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var threads = dump.Threads.Where(t => t.CreateTime is not null).ToArray();
        if (threads.Length == 0 || dump.DumpTime is not { } dumpTime)
        {
            yield return context.NotEvaluated(Pattern, "threadinfolist",
                dump.DumpTime is null ? "the dump time is not recorded (header TimeDateStamp 0)"
                    : "ThreadInfoList not captured (MiniDumpWithThreadInfo; procdump -ma includes it)",
                "Capture with procdump -ma or MiniDumpWithThreadInfo.");
            yield break;
        }

        var parts = new List<string>();
        DateTimeOffset? processCreate = dump.File?.MiscInfo?.ProcessCreateTime is { } pc and > 0 ? DateTimeOffset.FromUnixTimeSeconds(pc) : null;
        TimeSpan? uptime = processCreate is { } p && dumpTime >= p ? dumpTime - p : null;
        parts.Add(uptime is { } u ? $"Process up {DetectorContext.Duration(u)}" : "Process uptime unknown (no ProcessCreateTime in MiscInfo)");

        var unreliable = threads.Where(t => t.CreateTime > dumpTime.AddSeconds(1) ||
                                            (processCreate is { } pcs && t.CreateTime < pcs.AddSeconds(-2))).ToArray();
        if (unreliable.Length > 0)
            parts.Add($"ThreadInfo times unreliable for {unreliable.Length} thread(s) (created after the dump or before the process): {string.Join(", ", unreliable.Select(DetectorContext.ThreadLabel))}");

        // The dump time has one-second resolution: a thread created in the dump's last second can look younger than 0.
        TimeSpan AgeOf(DumpThread t) => t.CreateTime is { } c && c < dumpTime ? dumpTime - c : TimeSpan.Zero;
        string AgeText(DumpThread t) => AgeOf(t) == TimeSpan.Zero ? "under 1 s" : DetectorContext.Duration(AgeOf(t));
        var byAge = threads.Except(unreliable).OrderByDescending(AgeOf).ToArray();
        if (byAge.Length > 0)
        {
            var oldest = byAge[0];
            var youngest = byAge[^1];
            string oldestText = $"oldest {DetectorContext.ThreadLabel(oldest)} {AgeText(oldest)}";
            if (uptime is { } up && (up - AgeOf(oldest)).Duration() <= TimeSpan.FromSeconds(2)) oldestText += " = process age";
            parts.Add(byAge.Length == 1
                ? $"1 thread: {DetectorContext.ThreadLabel(oldest)} {AgeText(oldest)} old"
                : $"{byAge.Length} threads: {oldestText}, youngest {DetectorContext.ThreadLabel(youngest)} {AgeText(youngest)}");
        }

        int recent = byAge.Count(t => AgeOf(t) <= Recent);
        bool burst = recent >= 10 && recent * 4 >= dump.Threads.Count;
        parts.Add(burst ? $"{recent} of {dump.Threads.Count} threads younger than 60 s (burst)" : $"{recent} younger than 60 s");

        var busiest = threads.Where(t => t.TotalCpuTime is not null).OrderByDescending(t => t.TotalCpuTime).FirstOrDefault();
        if (busiest is { TotalCpuTime: { } cpu } && AgeOf(busiest) is var age && cpu > TimeSpan.Zero && age > TimeSpan.Zero)
            parts.Add(string.Create(CultureInfo.InvariantCulture,
                $"busiest {DetectorContext.ThreadLabel(busiest)} used {cpu.TotalSeconds:0.##} s of CPU in {age.TotalSeconds:0.##} s ({100 * cpu.TotalSeconds / age.TotalSeconds:0} % of its age)"));

        yield return context.Create(Pattern, Severity.Info, string.Join("; ", parts), burst ? "summary|burst" : "summary",
            recommendation: burst ? "Many threads were created just before the dump: look at what created them (Get-DumpThread | Sort-Object CreateTime)." : null);
    }
}
