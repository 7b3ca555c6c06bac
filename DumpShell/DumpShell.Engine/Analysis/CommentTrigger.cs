using System.Text.RegularExpressions;

namespace DumpShell.Analysis;

/// <summary>Why a dump was written, as its comment says (the Trigger of Embedded Comments).</summary>
public enum DumpTrigger
{
    /// <summary>No comment, or none of the known phrases.</summary>
    None,
    /// <summary>A dump tool's command line without an exception, hang or threshold trigger (taken on request).</summary>
    Manual,
    HungWindow,
    CpuThreshold,
    CommitThreshold,
    FirstChanceException,
    UnhandledException,
}

/// <summary>The classified comment: trigger, the tool that wrote it (when named) and the comment text.</summary>
public sealed partial record CommentTrigger(DumpTrigger Trigger, string? Tool, string Text)
{
    /// <summary>Classifies the comment streams' text by the phrases ProcDump and similar tools write.</summary>
    public static CommentTrigger Classify(IEnumerable<string> comments)
    {
        string text = string.Join(" | ", comments.Select(c => c.Replace('\0', ' ').Trim()).Where(c => c.Length > 0).Distinct());
        string? tool = ProcDump().IsMatch(text) ? "ProcDump" : null;
        DumpTrigger trigger =
            HungWindow().IsMatch(text) ? DumpTrigger.HungWindow
            : Cpu().IsMatch(text) ? DumpTrigger.CpuThreshold
            : Commit().IsMatch(text) ? DumpTrigger.CommitThreshold
            : FirstChance().IsMatch(text) ? DumpTrigger.FirstChanceException
            : Unhandled().IsMatch(text) ? DumpTrigger.UnhandledException
            : tool is not null && !ProcDumpExceptionSwitch().IsMatch(text) ? DumpTrigger.Manual
            : DumpTrigger.None;
        return new CommentTrigger(trigger, tool, text);
    }

    [GeneratedRegex(@"\bprocdump(64|64a)?(\.exe)?\b", RegexOptions.IgnoreCase)]
    private static partial Regex ProcDump();

    [GeneratedRegex(@"hung window|not responding", RegexOptions.IgnoreCase)]
    private static partial Regex HungWindow();

    [GeneratedRegex(@"\bCPU\b.{0,40}(threshold|exceed|above|%)|(threshold|exceed).{0,40}\bCPU\b", RegexOptions.IgnoreCase)]
    private static partial Regex Cpu();

    [GeneratedRegex(@"\bcommit\b.{0,40}(threshold|exceed|above|limit)|(threshold|exceed).{0,40}\bcommit\b", RegexOptions.IgnoreCase)]
    private static partial Regex Commit();

    [GeneratedRegex(@"first[\s_-]*chance", RegexOptions.IgnoreCase)]
    private static partial Regex FirstChance();

    [GeneratedRegex(@"unhandled|second[\s_-]*chance", RegexOptions.IgnoreCase)]
    private static partial Regex Unhandled();

    // procdump's own switches for exception, hang, CPU, commit and performance-counter triggers.
    [GeneratedRegex(@"\s-(e|h|c|cl|m|ml|p|pl|t)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ProcDumpExceptionSwitch();
}
