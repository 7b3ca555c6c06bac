using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Double Free (Process Heap): a verifier double-free stop on the stack (Critical). The heap-failure record's type
/// (block_not_busy, segment_lfh_double_free) needs ntdll symbols that locate RtlpHeapFailureInfo; when Dynamic Memory
/// Corruption fires without them this detector says "Not evaluated"; otherwise it stays silent.
/// </summary>
internal sealed class DoubleFreeDetector : IDetector
{
    public string Pattern => "Double Free (Process Heap)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        foreach (var t in dump.Threads)
        {
            var frames = context.LiveStack(t);
            var stop = frames.FirstOrDefault(f => StackNames.Matches(f.Function, ["VerifierStopMessage", "AVrfpDphReportCorruptedBlock", "RtlpDphReportCorruptedBlock"]));
            if (stop is null || !frames.Any(f => StackNames.Matches(f.Function, ["RtlFreeHeap", "RtlpDphNormalHeapFree", "RtlpDphFreeHeap", "AVrfpRtlFreeHeap", "HeapFree", "free"]))) continue;
            var caller = context.FramesThatMatter(frames).FirstOrDefault();
            yield return context.Create(Pattern, Severity.Critical,
                $"Verifier stop {context.FrameText(stop)} while freeing a heap block" + (caller is not null ? $", freed from {context.FrameText(caller)}" : ""),
                $"verifier|{(caller is not null ? context.FrameKey(caller) : "no-caller")}", t.Id, caller is not null ? dump.ModuleAt(caller.InstructionPointer)?.Name : null, stop.InstructionPointer);
            yield break;
        }
        var dmc = new DynamicMemoryCorruptionDetector().Run(dump, context).FirstOrDefault();
        if (dmc is not null && !dmc.IsDataGap)
            yield return context.NotEvaluated(Pattern, "heap-failure-record", "heap failure record unavailable (needs ntdll symbols)");
    }
}
