using DumpShell.Machine.Unwind;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Execution Residue (Unmanaged Space, User): return addresses of real calls (call-site verified, in executable image
/// code) in a thread's stack memory that are not live frames. Reported per thread only when one is interesting:
/// exception dispatch, heap failure, fail-fast, MessageBox*, or a module on no live stack. Info, never higher.
/// </summary>
internal sealed class ExecutionResidueDetector : IDetector
{
    private const int MaxSlots = 1 << 17;

    private static readonly string[] Interesting =
        [.. StackNames.ExceptionDispatch, .. StackNames.HeapFailure, "report_gsfailure", "__report_gsfailure", "RtlFailFast", "MessageBox"];

    public string Pattern => "Execution Residue (Unmanaged Space, User)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var liveModules = new HashSet<ulong>();
        foreach (var t in dump.Threads)
            foreach (var f in context.LiveStack(t).Concat(context.StackOf(t)))
                if (dump.ModuleAt(f.InstructionPointer) is { } m) liveModules.Add(m.BaseAddress);
        int p = dump.PointerSize;
        foreach (var t in dump.Threads)
        {
            if (t.StackBase is not { } stackBase) continue;
            var live = context.LiveStack(t).Concat(context.StackOf(t)).Select(f => f.InstructionPointer).ToHashSet();
            ulong from = context.HasFullMemory && t.StackLimit is { } l ? l : context.LiveStack(t).FirstOrDefault()?.ChildSP ?? t.StackPointer ?? stackBase;
            from &= ~(ulong)(p - 1);
            var kept = new List<(ulong Value, string Symbol, bool Interesting)>();
            var seen = new HashSet<ulong>();
            int slots = 0;
            for (ulong at = from; at < stackBase && slots < MaxSlots; at += (ulong)p, slots++)
            {
                if (!dump.Memory.TryReadPointer(at, p, out ulong v) || v < 0x10000 || live.Contains(v) || !seen.Add(v)) continue;
                if (dump.ModuleAt(v) is not { } module || context.InExecutableImage(v) != true) continue;
                if (context.CallSiteOf(v) != CallSiteVerdict.Call) continue;
                var symbol = context.Symbols.Resolve(v - 1);
                string text = symbol is null ? context.Where(v) : (symbol with { Offset = symbol.Offset + 1 }).Text;
                bool interesting = StackNames.Matches(symbol?.Function, Interesting) || !liveModules.Contains(module.BaseAddress);
                kept.Add((v, text + (liveModules.Contains(module.BaseAddress) ? "" : " (not on live stack)"), interesting));
            }
            if (!kept.Any(k => k.Interesting)) continue;
            string prefix = context.HasFullMemory ? "" : "live stack region only (below-SP memory not captured); ";
            yield return context.Create(Pattern, Severity.Info,
                $"{prefix}Thread {DetectorContext.ThreadLabel(t)} residue: " + string.Join(", ", kept.Select(k => k.Symbol).Distinct().Take(20)),
                string.Join(",", kept.Where(k => k.Interesting).Select(k => k.Symbol.Split(' ')[0].ToLowerInvariant()).Distinct().Take(5)), t.Id);
        }
    }
}
