using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Message Box: a live frame of MessageBox*, SoftModalMessageBox, TaskDialogIndirect, NtRaiseHardError or a CRT assert
/// dialog. Warning; Error on the main thread of a service session (PEB.SessionId 0). When a thread has frames in
/// user32/comctl32 that are not named, a message box cannot be ruled out: one "Not evaluated" finding.
/// </summary>
internal sealed class MessageBoxDetector : IDetector
{
    internal static readonly string[] Names =
    [
        "MessageBoxW", "MessageBoxA", "MessageBoxExW", "MessageBoxExA", "MessageBoxTimeoutW", "MessageBoxTimeoutA", "MessageBoxIndirectW",
        "MessageBoxIndirectA", "SoftModalMessageBox", "TaskDialogIndirect", "NtRaiseHardError", "CrtDbgReport", "acrt_show_wide_message_box",
    ];

    public string Pattern => "Message Box";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        var unnamed = new List<DumpThread>();
        foreach (var t in dump.Threads)
        {
            var frames = context.StackOf(t);
            var box = frames.FirstOrDefault(f => StackNames.Matches(f.Function, Names));
            if (box is null)
            {
                if (frames.Any(f => f.Function is null && dump.ModuleAt(f.InstructionPointer)?.Name.ToLowerInvariant() is "user32.dll" or "comctl32.dll"))
                    unnamed.Add(t);
                continue;
            }
            var caller = context.FramesThatMatter(frames.Where(f => f.Frame > box.Frame).ToArray()).FirstOrDefault();
            string? text = RecoverText(dump, context, frames, box);
            bool service = dump.ProcessEnvironment?.SessionId is 0;
            var severity = service && (t.Id == context.MainThread?.Id || ThreadStacks.IsGuiThread(dump, t) == true) ? Severity.Error : Severity.Warning;
            yield return context.Create(Pattern, severity,
                $"Thread {DetectorContext.ThreadLabel(t)}: {context.FrameText(box)}{(text is null ? " (text not recovered)" : $"(\"{text}\")")}"
                + (caller is not null ? $" from {context.FrameText(caller)}" : "") + (service ? "; session 0: nobody can answer" : ""),
                $"{StackNames.Normalize(box.Function!).ToLowerInvariant()}|{(caller is not null ? context.FrameKey(caller) : "no-caller")}", t.Id,
                caller is not null ? dump.ModuleAt(caller.InstructionPointer)?.Name : null, box.InstructionPointer);
        }
        if (unnamed.Count > 0)
            yield return context.NotEvaluated(Pattern, "user32-names",
                $"threads {ThreadStacks.Ids(unnamed)} have frames in user32/comctl32 without function names; a message box cannot be ruled out (needs user32 symbols or exports)");
    }

    /// <summary>A readable UTF-16 string that a pointer-sized value in the caller's frame area points to (x64 home slots, x86 arguments).</summary>
    private static string? RecoverText(Dump dump, DetectorContext context, IReadOnlyList<StackFrame> frames, StackFrame box)
    {
        int p = dump.PointerSize;
        ulong from = box.ChildSP;
        for (int i = 0; i < 64; i++)
        {
            if (!dump.Memory.TryReadPointer(from + (ulong)(i * p), p, out ulong v) || v < 0x10000) continue;
            var buffer = new byte[512];
            int got = dump.Memory.Read(v, buffer);
            if (got < 8) continue;
            var chars = new List<char>();
            for (int k = 0; k + 1 < got; k += 2)
            {
                char c = (char)(buffer[k] | buffer[k + 1] << 8);
                if (c == 0) break;
                if (c < 0x20 && c is not '\r' and not '\n' and not '\t') { chars.Clear(); break; }
                chars.Add(c);
            }
            if (chars.Count >= 4) return Text.Clip(new string(chars.ToArray()), 200);
        }
        return null;
    }
}
