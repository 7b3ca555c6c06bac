using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Input Thread: GUI threads (TEB.Win32ThreadInfo non-zero, or message-loop frames). Info per GUI thread; Warning when
/// one is blocked in a non-message wait or blocked inside a window procedure; Error when a message box is up on it.
/// </summary>
internal sealed class InputThreadDetector : IDetector
{
    public string Pattern => "Input Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        int noTeb = 0;
        foreach (var t in dump.Threads)
        {
            bool? gui = ThreadStacks.IsGuiThread(dump, t);
            var frames = context.StackOf(t);
            bool messageFrames = ThreadStacks.HasMessageFrames(frames);
            if (gui is null) noTeb++;
            if (gui != true && !messageFrames) continue;
            var state = context.StateOf(t);
            bool inWndProc = frames.Any(f => StackNames.Matches(f.Function, ["UserCallWinProcCheckWow", "UserCallWinProc"]));
            bool messageBox = frames.Any(f => StackNames.Matches(f.Function, MessageBoxDetector.Names));
            var severity = messageBox ? Severity.Error
                : state.Activity == ThreadActivity.Blocked && (state.WaitKind != "Message" || inWndProc) ? Severity.Warning
                : Severity.Info;
            var matter = context.FramesThatMatter(frames).FirstOrDefault();
            yield return context.Create(Pattern, severity,
                $"Input thread {DetectorContext.ThreadLabel(t)} ({(gui == true ? "TEB.Win32ThreadInfo set" : "message frames")}): " +
                (state.Activity == ThreadActivity.Unknown ? $"state not decided ({state.Reason})" : state.Reason) + (messageBox ? "; a message box is up" : ""),
                $"{state.Activity.ToString().ToLowerInvariant()}|{(matter is not null ? context.FrameKey(matter) : "no-caller")}", t.Id,
                matter is not null ? dump.ModuleAt(matter.InstructionPointer)?.Name : null, t.Teb);
        }
        if (noTeb == dump.Threads.Count && dump.Threads.Count > 0)
            yield return context.NotEvaluated(Pattern, "teb", "TEB pages not captured: GUI threads are recognised from message frames only");
    }
}
