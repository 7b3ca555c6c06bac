using System.Globalization;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Spiking Thread: one finding per thread that is <see cref="DumpThread.Spiking"/> (at least 1 s of CPU and at least
/// half a processor over its life), and for the top thread when it dominates (t ≥ 1 s, t ≥ 50 % of all threads' CPU
/// and t ≥ 2 × the next thread's). Warning. Needs the ThreadInfoList stream.
/// </summary>
internal sealed class SpikingThreadDetector : IDetector
{
    public string Pattern => "Spiking Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var timed = dump.Threads.Where(t => t.TotalCpuTime is not null).OrderByDescending(t => t.TotalCpuTime).ToArray();
        if (timed.Length == 0)
        {
            yield return context.NotEvaluated(Pattern, "threadinfolist", "ThreadInfoList not captured, CPU times unknown",
                "Capture with procdump -ma or MiniDumpWithThreadInfo.");
            yield break;
        }
        double total = timed.Sum(t => t.TotalCpuTime!.Value.TotalSeconds);
        double second = timed.Length > 1 ? timed[1].TotalCpuTime!.Value.TotalSeconds : 0;
        for (int i = 0; i < timed.Length; i++)
        {
            var t = timed[i];
            double cpu = t.TotalCpuTime!.Value.TotalSeconds;
            double next = i == 0 ? second : timed[0].TotalCpuTime!.Value.TotalSeconds;
            bool dominant = i == 0 && cpu >= SpikingRule.MinimumCpu.TotalSeconds && cpu >= 0.5 * total && cpu >= 2 * second;
            if (!t.Spiking && !dominant) continue;

            var text = new System.Text.StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"Thread {DetectorContext.ThreadLabel(t)} CPU {cpu:0.##} s");
            if (t.UserTime is { } user && t.KernelTime is { } kernel)
                text.Append(CultureInfo.InvariantCulture, $" (user {user.TotalSeconds:0.##}, kernel {kernel.TotalSeconds:0.##})");
            if (total > 0) text.Append(CultureInfo.InvariantCulture, $" = {100 * cpu / total:0} % of all threads");
            text.Append(next > 0 ? string.Create(CultureInfo.InvariantCulture, $", {cpu / next:0.#}x {(i == 0 ? "next" : "the top thread")}")
                                 : ", every other thread 0 s");
            if (t.Age is { } age && age > TimeSpan.Zero)
                text.Append(CultureInfo.InvariantCulture, $"; age {age.TotalSeconds:0.##} s ({100 * cpu / age.TotalSeconds:0} % of its life on a CPU)");
            if (t.InstructionPointer is { } ip) text.Append($"; IP {context.Where(ip)}");
            text.Append(t.Spiking ? "; spiking (>= 1 s and >= half a CPU over its life)" : "; dominant (>= 50 % of all CPU, >= 2x the next)");
            text.Append("; current state not classified");

            string key = t.StartAddress is { } start && dump.ModuleAt(start) is not null ? context.LocationKey(start)
                : t.InstructionPointer is { } ip2 ? context.LocationKey(ip2) : "unknown";
            yield return context.Create(Pattern, Severity.Warning, text.ToString(), key, t.Id,
                module: t.InstructionPointer is { } ip3 ? dump.ModuleAt(ip3)?.Name : null, address: t.InstructionPointer,
                recommendation: $"See what the thread runs: Get-DumpThread -ThreadId {t.Id} (its stack once Get-DumpStack exists); two dumps a few seconds apart show whether it keeps spinning.");
        }
    }
}
