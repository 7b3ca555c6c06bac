using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>Thread facts several thread detectors share.</summary>
internal static class ThreadStacks
{
    /// <summary>The first <paramref name="count"/> frames as "a &lt;- b &lt;- c".</summary>
    public static string Top(DetectorContext context, IReadOnlyList<StackFrame> frames, int count) =>
        frames.Count == 0 ? "(no frames)" : string.Join(" <- ", frames.Take(count).Select(context.FrameText));

    /// <summary>TEB.Win32ThreadInfo is non-zero (a GUI thread); null when the TEB was not captured.</summary>
    public static bool? IsGuiThread(Dump dump, DumpThread thread) =>
        dump.NativeTeb(thread) is { } teb ? teb.Win32ThreadInfo is { } w ? w != 0 : null : null;

    /// <summary>Message-loop frames by name (GetMessage, PeekMessage, DispatchMessage, UserCallWinProcCheckWow).</summary>
    public static bool HasMessageFrames(IReadOnlyList<StackFrame> frames) =>
        frames.Any(f => StackNames.Matches(f.Function, ["GetMessage", "PeekMessage", "DispatchMessage", "UserCallWinProcCheckWow", "NtUserGetMessage", "NtUserPeekMessage"]));

    /// <summary>Threads whose classification is Unknown: "0xf0, 0x110".</summary>
    public static string Ids(IEnumerable<DumpThread> threads) => string.Join(", ", threads.Select(t => $"0x{t.Id:x}"));

    /// <summary>True for the dump writer's own thread (dbghelp/dbgcore MiniDumpWriteDump on its stack) or a debugger break-in thread.</summary>
    public static bool IsToolThread(DetectorContext context, DumpThread thread) =>
        context.StackOf(thread).Any(f => StackNames.Matches(f.Function, ["MiniDumpWriteDump", "DbgUiRemoteBreakin", "DbgBreakPoint"]));

    public const string UnknownHint =
        "the thread classifier needs the names of ntdll/win32u wait functions (ntdll symbols, or its exports from a full-memory dump or an image file on the symbol path)";
}
