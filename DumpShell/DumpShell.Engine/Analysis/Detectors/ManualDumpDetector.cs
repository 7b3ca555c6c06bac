using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Manual Dump (Process): saved on purpose while the process ran. No Exception stream, or the stored exception is the
/// debugger break-in breakpoint (0x80000003 / 0x4000001F raised in ntdll). A crash handler's dump (an error-class code)
/// never triggers it.
/// </summary>
internal sealed class ManualDumpDetector : IDetector
{
    public string Pattern => "Manual Dump (Process)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        var e = dump.Exception;
        string evidence, key;
        uint? threadId = null;
        ulong? address = null;
        if (e is null)
        {
            evidence = "No stored exception (no Exception stream)";
            key = "no-exception";
        }
        else if (context.IsWindows && ExceptionFacts.IsBreakpoint(e.Code) &&
                 string.Equals(e.Module, "ntdll.dll", StringComparison.OrdinalIgnoreCase))
        {
            evidence = $"Stored exception is the break-in breakpoint 0x{e.Code:X8} at {context.Where(e.Address)} on thread 0x{e.ThreadId:x} (debugger break-in; its DbgUiRemoteBreakin stack is not checked)";
            key = "break-in";
            threadId = e.ThreadId;
            address = e.Address;
        }
        else
        {
            yield break;
        }

        var trigger = context.Trigger;
        if (trigger.Tool is { } tool) evidence += $"; written by {tool}";
        if (trigger.Trigger is DumpTrigger.HungWindow or DumpTrigger.CpuThreshold or DumpTrigger.CommitThreshold)
        {
            evidence += $"; trigger {trigger.Trigger}";
            key += "|" + trigger.Trigger.ToString().ToLowerInvariant();
        }
        if (trigger.Text.Length > 0) evidence += $"; comment: \"{Text.Clip(trigger.Text, 300)}\"";
        if (dump.Modules.FirstOrDefault(m => m.Name.Equals("dbghelp.dll", StringComparison.OrdinalIgnoreCase) ||
                                             m.Name.Equals("dbgcore.dll", StringComparison.OrdinalIgnoreCase)) is { } writer)
            evidence += $"; {writer.Name} is loaded, so the process may have written its own dump (writer thread not checked)";

        yield return context.Create(Pattern, Severity.Info, evidence, key, threadId, address: address,
            recommendation: "A moment in time, not a failure point: look at waits (Get-DumpThread, Invoke-DumpPattern -Category 'Thread Patterns'), CPU and resource levels.");
    }
}
