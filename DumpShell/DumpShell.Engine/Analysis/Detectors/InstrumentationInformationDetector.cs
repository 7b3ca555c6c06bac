using DumpShell.Model;
using DumpShell.Model.Names;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Instrumentation Information: debugging aids switched on in the process. One finding per group present: NtGlobalFlag
/// heap and loader flags (0x70 alone = started under a debugger), PEB.BeingDebugged, Application Verifier modules,
/// profiler variables set to 1.
/// </summary>
internal sealed class InstrumentationInformationDetector : IDetector
{
    private static readonly string[] VerifierModules = ["verifier.dll", "vrfcore.dll", "vfbasics.dll", "vfcompat.dll"];
    private static readonly string[] ProfilerSwitches = ["COR_ENABLE_PROFILING", "CORECLR_ENABLE_PROFILING"];

    public string Pattern => "Instrumentation Information";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var env = dump.ProcessEnvironment;
        if (dump.HasWindowsTebLayout && (env is null || env.NtGlobalFlag is null))
        {
            yield return context.NotEvaluated(Pattern, "peb", "PEB not captured, so NtGlobalFlag and BeingDebugged are unknown (the module check still ran)",
                "Capture with MiniDumpWithProcessThreadData or full memory (procdump -ma).");
        }
        else if (env is not null)
        {
            // 0x400 (pool tagging) is a kernel flag Windows copies into every PEB: not instrumentation of this process.
            uint flags = env.NtGlobalFlag!.Value & ~GlobalFlags.PoolTagging;
            string peb = Hex.Address(env.PebAddress, env.PointerSize);
            if (flags == GlobalFlags.DebuggerDefault)
            {
                yield return context.Create(Pattern, Severity.Info,
                    $"NtGlobalFlag=0x{flags:x} (heap tail, free and parameter checks): started under a debugger (debug heap), not deliberate instrumentation",
                    "debug-heap", address: env.PebAddress);
            }
            else if (flags != 0)
            {
                var groups = new List<string>();
                if ((flags & GlobalFlags.PageHeap) != 0) groups.Add("page-heap");
                if ((flags & GlobalFlags.UserStackTraceDb) != 0) groups.Add("stack-trace-db");
                if ((flags & (GlobalFlags.HeapTailCheck | GlobalFlags.HeapFreeCheck | GlobalFlags.HeapParameterCheck | GlobalFlags.HeapValidateAll)) != 0) groups.Add("heap-checks");
                if ((flags & GlobalFlags.HeapTagging) != 0) groups.Add("heap-tagging");
                if ((flags & GlobalFlags.ApplicationVerifier) != 0) groups.Add("verifier");
                if ((flags & GlobalFlags.ShowLoaderSnaps) != 0) groups.Add("loader-snaps");
                yield return context.Create(Pattern, Severity.Info,
                    $"NtGlobalFlag=0x{flags:x8} ({GlobalFlags.Describe(flags)}) in the PEB at {peb}",
                    "gflags|" + (groups.Count > 0 ? string.Join(",", groups) : $"0x{flags:x}"), address: env.PebAddress,
                    recommendation: (flags & GlobalFlags.PageHeap) != 0 ? "Page heap is on: heap overruns fault at the culprit's instruction." : null);
            }
            if (env.BeingDebugged == true)
                yield return context.Create(Pattern, Severity.Info, $"A debugger was attached: PEB.BeingDebugged=1 (PEB at {peb})",
                    "debugger-attached", address: env.PebAddress);
            var profilers = ProfilerSwitches.Where(n => env.GetVariable(n) == "1").ToArray();
            if (profilers.Length > 0)
            {
                string profiler = env.GetVariable("CORECLR_PROFILER") ?? env.GetVariable("COR_PROFILER") ?? "unknown CLSID";
                yield return context.Create(Pattern, Severity.Info, $"Profiler enabled: {string.Join(", ", profilers.Select(n => n + "=1"))}; profiler {profiler}",
                    "profiler", address: env.PebAddress);
            }
        }

        var verifier = dump.Modules.Where(m => VerifierModules.Contains(m.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (verifier.Length > 0)
            yield return context.Create(Pattern, Severity.Info, $"Application Verifier loaded: {string.Join(", ", verifier.Select(m => m.Name))}",
                "verifier-modules", module: verifier[0].Name, address: verifier[0].BaseAddress);
    }
}
