using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Unknown Component: a module outside %SystemRoot% with no version resource, or with empty CompanyName and
/// FileDescription. The main executable is the process itself and is never unknown. Info; Warning when the module is in
/// live frames of the exception thread or of a blocked main thread.
/// </summary>
internal sealed class UnknownComponentDetector : IDetector
{
    public string Pattern => "Unknown Component";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows || dump.Modules.Count == 0) yield break;
        var main = dump.Modules[0];
        var exceptionThread = dump.Threads.FirstOrDefault(context.IsExceptionThread);
        var mainThread = context.MainThread;
        foreach (var m in dump.Modules.Skip(1))
        {
            if (DetectorContext.IsSystemModule(m)) continue;
            bool noVersion = m.FileVersion is null;
            bool noStrings = string.IsNullOrWhiteSpace(m.CompanyName) && string.IsNullOrWhiteSpace(m.FileDescription);
            if (!noVersion && !noStrings) continue;
            bool onException = exceptionThread is not null && context.LiveStack(exceptionThread).Any(f => dump.ModuleAt(f.InstructionPointer) == m);
            bool onBlockedMain = mainThread is not null && context.StateOf(mainThread).Activity == ThreadActivity.Blocked
                                 && context.StackOf(mainThread).Any(f => dump.ModuleAt(f.InstructionPointer) == m);
            string folder = m.Path is { } p && p.Replace('/', '\\').LastIndexOf('\\') is var i and > 0 ? p[..i] : "unknown folder";
            yield return context.Create(Pattern, onException || onBlockedMain ? Severity.Warning : Severity.Info,
                $"{m.Name} ({(noVersion ? "no version info" : "no company or description")}) in {folder}"
                + (m.PdbName is { } pdb ? $"; PDB {pdb}" : "") + (onException ? "; on exception stack" : onBlockedMain ? "; on the blocked main thread" : ""),
                m.Name.ToLowerInvariant(), null, m.Name, m.BaseAddress);
        }
    }
}
