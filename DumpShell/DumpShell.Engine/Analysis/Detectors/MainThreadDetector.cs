using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Main Thread: identifies the thread that ran the entry point (Info) and states its classification. Warning when it
/// is a GUI thread blocked in a non-message wait. (Error in a wait chain or deadlock is left to those detectors.)
/// </summary>
internal sealed class MainThreadDetector : IDetector
{
    private static readonly HashSet<string> NonMessageWaits = ["CriticalSection", "SrwLock", "Object", "SendMessage", "Rpc/Alpc", "Com", "SyncIo"];

    public string Pattern => "Main Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var main = context.MainThread;
        if (main is null)
        {
            yield return context.Create(Pattern, Severity.Info, "main thread not present (the dump has no threads)", "not-present");
            yield break;
        }
        var state = context.StateOf(main);
        var frames = context.LiveStack(main);
        bool? gui = ThreadStacks.IsGuiThread(dump, main);
        bool guiByFrames = ThreadStacks.HasMessageFrames(frames);
        bool isGui = gui == true || guiByFrames;
        var severity = isGui && state.Activity == ThreadActivity.Blocked && state.WaitKind is { } k && NonMessageWaits.Contains(k)
            ? Severity.Warning : Severity.Info;
        string what = state.Activity switch
        {
            ThreadActivity.Unknown => $"state not decided ({state.Reason})",
            _ => $"{state.Activity.ToString().ToLowerInvariant()}: {state.Reason}",
        };
        if (context.IsExceptionThread(main)) what = "the exception thread; " + what;
        string guiText = gui is null ? (guiByFrames ? "GUI (message frames)" : "GUI unknown (TEB not captured)") : isGui ? "GUI thread" : "not a GUI thread";
        var matter = context.FramesThatMatter(frames).FirstOrDefault();
        string key = state.Activity.ToString().ToLowerInvariant() + (matter is not null ? "|" + context.FrameKey(matter) : "");
        yield return context.Create(Pattern, severity,
            $"Main thread {DetectorContext.ThreadLabel(main)} (identified by {context.MainThreadHow}), {guiText}, {what}; top: {ThreadStacks.Top(context, frames, 3)}",
            key, main.Id, matter is not null ? dump.ModuleAt(matter.InstructionPointer)?.Name : null, main.InstructionPointer,
            recommendation: severity > Severity.Info ? "A GUI main thread blocked outside its message loop hangs the UI: find what it waits for (Get-DumpStack -ThreadId)." : null);
    }
}
