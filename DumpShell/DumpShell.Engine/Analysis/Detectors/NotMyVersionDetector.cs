using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Not My Version (Software). With a baseline: Warning for each listed module whose file version is outside its range.
/// Without one: Warning when ntdll's major.minor.build does not match the OS build of SystemInfo (servicing families
/// mapped first); Info for modules of the main image's folder whose product version major.minor differs from the main
/// image's (a mixed install); and one Info saying that no baseline was supplied.
/// </summary>
internal sealed class NotMyVersionDetector : IDetector
{
    /// <summary>Servicing families: builds that share one ntdll build number.</summary>
    private static readonly Dictionary<uint, uint> Families = new()
    {
        [19042] = 19041, [19043] = 19041, [19044] = 19041, [19045] = 19041, [22631] = 22621, [26200] = 26100,
    };

    /// <summary>Modules that ship side by side in several versions by design.</summary>
    private static readonly string[] SideBySide = ["vcruntime140", "msvcp140", "concrt140", "vccorlib140", "ucrtbase", "api-ms-win-", "coreclr", "clrjit", "hostfxr", "hostpolicy", "system.", "microsoft."];

    public string Pattern => "Not My Version (Software)";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!context.IsWindows) yield break;
        if (context.Options.Baseline is { } baseline)
        {
            foreach (var row in baseline)
            {
                var m = dump.Modules.FirstOrDefault(x => x.Name.Equals(row.Module, StringComparison.OrdinalIgnoreCase));
                if (m is null) continue;
                if (m.FileVersion is not { } v) continue; // no version resource: Unknown Component's business
                string? problem = row.MinVersion is { } min && v < min ? $"below the baseline minimum {min}"
                    : row.MaxVersion is { } max && v > max ? $"above the baseline maximum {max}" : null;
                if (problem is null) continue;
                yield return context.Create(Pattern, Severity.Warning, $"{m.Name} {v} is {problem} ({m.Path})",
                    $"{m.Name.ToLowerInvariant()}|{(problem.StartsWith("below", StringComparison.Ordinal) ? "below-min" : "above-max")}",
                    module: m.Name, address: m.BaseAddress,
                    recommendation: "Install the module version the product was built and tested with.");
            }
            yield break;
        }

        var notes = new List<string>();
        var ntdll = dump.Modules.FirstOrDefault(m => m.Name.Equals("ntdll.dll", StringComparison.OrdinalIgnoreCase));
        uint? osBuild = dump.File?.SystemInfo?.BuildNumber;
        if (ntdll?.FileVersion is { } nv && osBuild is { } build and > 0)
        {
            var system = dump.File!.SystemInfo!;
            uint family = Families.GetValueOrDefault(build, build);
            uint ntdllFamily = Families.GetValueOrDefault((uint)nv.Build, (uint)nv.Build);
            if (nv.Major != system.MajorVersion || nv.Minor != system.MinorVersion || ntdllFamily != family)
                yield return context.Create(Pattern, Severity.Warning,
                    $"ntdll.dll {nv} does not match the OS {system.MajorVersion}.{system.MinorVersion}.{build} of SystemInfo (a private or mismatched ntdll?)",
                    "ntdll.dll|os-mismatch", module: ntdll.Name, address: ntdll.BaseAddress);
            else
                notes.Add($"ntdll.dll {nv} matches OS build {build}");
        }
        else
        {
            notes.Add("ntdll.dll's version is not in the dump, so the OS check did not run");
        }

        var main = dump.Modules.Count > 0 ? dump.Modules[0] : null;
        string? folder = Folder(main?.Path);
        if (main?.ProductVersion is { } mainVersion && folder is not null)
        {
            foreach (var m in dump.Modules.Skip(1))
            {
                if (m.ProductVersion is not { } pv || !string.Equals(Folder(m.Path), folder, StringComparison.OrdinalIgnoreCase)) continue;
                if (SideBySide.Any(s => m.Name.StartsWith(s, StringComparison.OrdinalIgnoreCase))) continue;
                if (pv.Major == mainVersion.Major && pv.Minor == mainVersion.Minor) continue;
                yield return context.Create(Pattern, Severity.Info, $"{m.Name} {pv} vs {main.Name} {mainVersion} (same folder {folder}): a mixed install?",
                    $"{m.Name.ToLowerInvariant()}|mixed-install", module: m.Name, address: m.BaseAddress);
            }
        }
        else
        {
            notes.Add($"{main?.Name ?? "the main image"} has no version in the dump, so the mixed-install check did not run");
        }

        yield return context.Create(Pattern, Severity.Info, $"no baseline supplied; only OS/mixed-install checks ran: {string.Join("; ", notes)}",
            "no-baseline", recommendation: "Pass -Baseline with Module,MinVersion[,MaxVersion] rows to check the product's own modules.");
    }

    private static string? Folder(string? path)
    {
        if (string.IsNullOrEmpty(path)) return null;
        int cut = path.LastIndexOfAny(['\\', '/']);
        return cut > 0 ? path[..cut] : null;
    }
}
