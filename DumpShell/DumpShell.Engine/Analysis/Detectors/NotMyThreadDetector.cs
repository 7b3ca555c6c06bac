using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Not My Thread: threads started in foreign code (not the OS, not the product's folder or -ProductPath, not a
/// runtime). Start address from ThreadInfoList, else the bottom frame outside the OS. A start in private memory
/// outside every module with no CLR loaded is "code outside modules" (Warning). Info; Warning also for the
/// exception thread and a spiking thread.
/// </summary>
internal sealed class NotMyThreadDetector : IDetector
{
    public string Pattern => "Not My Thread";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows || dump.Threads.Count == 0) yield break;
        string? productFolder = Folder(dump.Modules.FirstOrDefault()?.Path);
        bool clr = dump.Modules.Any(m => m.Name.ToLowerInvariant() is "clr.dll" or "coreclr.dll" or "mscorwks.dll");
        foreach (var t in dump.Threads)
        {
            ulong? start = t.StartAddress is { } s and not 0 ? s : null;
            string how = "ThreadInfoList start address";
            if (start is null)
            {
                var bottom = context.StackOf(t).LastOrDefault(f => !DetectorContext.IsSystemModule(dump.ModuleAt(f.InstructionPointer)));
                if (bottom is null) continue;
                start = bottom.InstructionPointer;
                how = "bottom frame (ThreadInfoList not captured)";
            }
            var module = dump.ModuleAt(start.Value);
            bool important = context.IsExceptionThread(t) || t.Spiking;
            if (module is null)
            {
                if (clr) continue;
                bool executable = dump.File?.MemoryInfos.FirstOrDefault(i => start >= i.BaseAddress && start - i.BaseAddress < i.RegionSize) is { } r
                                  && (r.Protect & 0xF0) != 0;
                if (!executable && dump.File?.MemoryInfos.Count > 0) continue;
                yield return context.Create(Pattern, Severity.Warning,
                    $"Thread {DetectorContext.ThreadLabel(t)} started at {Hex.Address(start.Value, dump.PointerSize)}: code outside modules ({how})",
                    "code-outside-modules", t.Id, null, start);
                continue;
            }
            if (DetectorContext.IsSystemModule(module) || DetectorContext.IsRaisingHelper(module)) continue;
            string? folder = Folder(module.Path);
            bool product = folder is not null && (string.Equals(folder, productFolder, StringComparison.OrdinalIgnoreCase)
                                                  || context.Options.ProductPaths.Any(p => folder.StartsWith(p.Replace('/', '\\').TrimEnd('\\'), StringComparison.OrdinalIgnoreCase)));
            if (product) continue;
            yield return context.Create(Pattern, important ? Severity.Warning : Severity.Info,
                $"Thread {DetectorContext.ThreadLabel(t)} started at {context.Where(start.Value)} ({how}): {module.Name} in {folder ?? "an unknown folder"} is neither OS nor product"
                + (important ? context.IsExceptionThread(t) ? "; it is the exception thread" : "; it is a Spiking Thread" : ""),
                $"{module.Name.ToLowerInvariant()}", t.Id, module.Name, start);
        }
    }

    private static string? Folder(string? path)
    {
        if (string.IsNullOrEmpty(path)) return null;
        string p = path.Replace('/', '\\');
        int slash = p.LastIndexOf('\\');
        return slash > 0 ? p[..slash] : null;
    }
}
