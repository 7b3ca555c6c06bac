using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// JIT Code (.NET): the exception address and threads' top frames that lie outside every module while a CLR is loaded,
/// resolved to managed methods (ClrMD GetMethodByInstructionPointer). Info when such an address is JIT code (naming the
/// method); Warning when the exception address is outside every module and no method owns it (a stub or wild code).
/// Code of ReadyToRun/NGEN images is inside modules and is not reported.
/// </summary>
internal sealed class JitCodeDotNetDetector : IDetector
{
    public string Pattern => "JIT Code (.NET)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (ManagedSpace.Ready(dump, context, Pattern, out var gap) is not { } session)
        {
            if (gap is not null && dump.Exception is { } ex && dump.ModuleAt(ex.InstructionPointer ?? ex.Address) is null)
                yield return context.Create(Pattern, Severity.Info,
                    $"Not evaluated: exception address 0x{ex.InstructionPointer ?? ex.Address:x} is outside every module: unresolved (DAC missing)",
                    "not-evaluated|dac", ex.ThreadId, recommendation: gap.Recommendation);
            yield break;
        }
        if (dump.Exception is { } e && (e.InstructionPointer ?? e.Address) is var ip and not 0 && dump.ModuleAt(ip) is null)
        {
            if (session.MethodAt(ip) is { } m)
                yield return context.Create(Pattern, Severity.Info,
                    $"Exception IP 0x{ip:x} = {Name(m)} ({(session.IsJitCode(ip) ? "JIT" : m.CompilationType.ToString())})",
                    $"exception|{Name(m).ToLowerInvariant()}", e.ThreadId, address: ip,
                    recommendation: "The fault is in managed code: Get-DumpManagedException and Get-DumpStack -ThreadId <id>.");
            else
                yield return context.Create(Pattern, Severity.Warning,
                    $"Exception IP 0x{ip:x} is outside every module and no managed method owns it (a runtime stub, or wild code)",
                    "exception|unresolved", e.ThreadId, address: ip,
                    recommendation: "Compare with Wild Code; look at the code there: Get-DumpDisassembly.");
        }
        foreach (var thread in dump.Threads)
        {
            if (thread.InstructionPointer is not { } top || top == 0 || dump.ModuleAt(top) is not null) continue;
            if (dump.Exception is { } x && x.ThreadId == thread.Id) continue;
            if (session.MethodAt(top) is not { } method || !session.IsJitCode(top)) continue;
            yield return context.Create(Pattern, Severity.Info,
                $"Thread {DetectorContext.ThreadLabel(thread)} top frame 0x{top:x} = {Name(method)} (JIT)",
                $"top|{Name(method).ToLowerInvariant()}", thread.Id, address: top,
                recommendation: "The thread runs managed code: Get-DumpStack -ThreadId <id> shows it by method.");
        }
    }

    private static string Name(Microsoft.Diagnostics.Runtime.ClrMethod m) => m.Signature ?? $"{m.Type?.Name}.{m.Name}";
}
