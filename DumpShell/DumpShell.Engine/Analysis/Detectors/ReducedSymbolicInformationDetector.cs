using DumpShell.Model;
using DumpShell.Symbols;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Reduced Symbolic Information: for the modules in live frames of the exception thread, the main thread and spiking
/// threads, Info per module named only by exports or by nothing. Warning when that is the Exception Module. OS modules
/// with a PDB are never reported. With no symbol path configured at all, one Info finding only.
/// </summary>
internal sealed class ReducedSymbolicInformationDetector : IDetector
{
    public string Pattern => "Reduced Symbolic Information";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        if (!context.HasSymbolPath)
        {
            yield return context.Create(Pattern, Severity.Info,
                "No symbol path configured (Set-DumpSymbolPath, -SymbolPath or _NT_SYMBOL_PATH): frames are named from exports only, or as module+offset",
                "no-symbol-path", recommendation: "Set-DumpSymbolPath with the product's symbols and the Microsoft symbol server (Set-DumpSymbolPath -Microsoft).");
            yield break;
        }
        var threads = dump.Threads.Where(t => context.IsExceptionThread(t) || t.Id == context.MainThread?.Id || t.Spiking).ToArray();
        var modules = new Dictionary<ulong, (DumpModule Module, int Frames, bool OnException)>();
        foreach (var t in threads)
            foreach (var f in context.LiveStack(t))
                if (dump.ModuleAt(f.InstructionPointer) is { } m)
                {
                    var (_, n, ex) = modules.GetValueOrDefault(m.BaseAddress, (m, 0, false));
                    modules[m.BaseAddress] = (m, n + 1, ex || context.IsExceptionThread(t));
                }
        ulong? exceptionModule = ExceptionFacts.Stored(dump) is { } e && dump.ModuleAt(e.Address) is { } em ? em.BaseAddress : null;
        foreach (var (module, frames, onException) in modules.Values.OrderBy(v => v.Module.Index))
        {
            var symbols = context.Symbols.For(module);
            if (symbols.Source is SymbolSource.Pdb or SymbolSource.BreakpadSym) continue;
            string type = symbols.Source == SymbolSource.Exports ? "export symbols only" : "no symbols";
            string pdb = module.PdbName is { } p ? $" (PDB {p}{(module.PdbGuid is { } g ? $" {g:N}" : "")} not found)" : " (no CodeView record)";
            bool isExceptionModule = exceptionModule == module.BaseAddress;
            yield return context.Create(Pattern, isExceptionModule ? Severity.Warning : Severity.Info,
                $"{module.Name}: {type}{pdb}; {frames} frames on {(onException ? "the exception stack and " : "")}important threads affected" + (isExceptionModule ? "; it is the Exception Module" : ""),
                $"{module.Name.ToLowerInvariant()}|{(symbols.Source == SymbolSource.Exports ? "export" : "none")}", null, module.Name, module.BaseAddress);
        }
    }
}
