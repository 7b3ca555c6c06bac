using System.Runtime.InteropServices;
using DumpShell.Format.Elf;
using DumpShell.Model;

namespace DumpShell.Managed;

/// <summary>The CLR a dump names in its module list: the runtime module, flavour and version.</summary>
public sealed record ClrRuntimeModule(DumpModule Module, string Flavor, string? Version, string Platform)
{
    /// <summary>Runtime module names, lower case: .NET (Core) on each OS, .NET Framework 4.x and 2.0.</summary>
    private static readonly Dictionary<string, string> Flavors = new(StringComparer.OrdinalIgnoreCase)
    {
        ["libcoreclr.so"] = "Core",
        ["libcoreclr.dylib"] = "Core",
        ["coreclr.dll"] = "Core",
        ["clr.dll"] = "Desktop",
        ["mscorwks.dll"] = "Desktop",
    };

    /// <summary>The runtime module of <paramref name="dump"/>; null for a dump of a process without a CLR.</summary>
    public static ClrRuntimeModule? Find(Dump dump)
    {
        foreach (var m in dump.Modules)
        {
            if (m.IsUnloaded || !Flavors.TryGetValue(m.Name, out var flavor)) continue;
            return new ClrRuntimeModule(m, flavor, VersionOf(m), ImagePlatform(m.Name));
        }
        return null;
    }

    /// <summary>"Windows", "Linux" or "macOS": the OS the runtime module was built for (by its file kind).</summary>
    private static string ImagePlatform(string name) =>
        name.EndsWith(".so", StringComparison.OrdinalIgnoreCase) ? "Linux"
        : name.EndsWith(".dylib", StringComparison.OrdinalIgnoreCase) ? "macOS" : "Windows";

    /// <summary>
    /// The runtime's version: the module's file version where the dump gives it, else the name of the folder it was
    /// loaded from when that reads as a version (…/Microsoft.NETCore.App/10.0.1/libcoreclr.so).
    /// </summary>
    private static string? VersionOf(DumpModule m)
    {
        if (m.FileVersion is { } v && v.Major > 0) return v.ToString();
        string? dir = m.Path is null ? null : DirectoryOf(m.Path);
        string? folder = dir is null ? null : Dump.FileNameOf(dir);
        return folder is not null && char.IsDigit(folder[0]) && System.Version.TryParse(folder.Split('-')[0], out _) ? folder : null;
    }

    internal static string? DirectoryOf(string path)
    {
        int cut = path.LastIndexOfAny(['/', '\\']);
        return cut > 0 ? path[..cut] : null;
    }

    public string DisplayVersion => Version is null ? $".NET {(Flavor == "Desktop" ? "Framework" : "")} (version unknown)".Replace("  ", " ") :
        Flavor == "Desktop" ? $".NET Framework {Version}" : $".NET {Version}";
}

/// <summary>Where the DAC for a dump's runtime is, or why there is none to be had on this host.</summary>
public sealed record DacResolution(ClrRuntimeModule Runtime, string? DacPath, string? HowFound, string? Failure, string? Remedy)
{
    /// <summary>True when the runtime can be created: a DAC path, or (DacPath null) ClrMD's own download on Windows.</summary>
    public bool Found => Failure is null;
}

/// <summary>
/// Finds the data access component (DAC) of a dump's runtime on this host: the one the user gives (-DacPath), or
/// libmscordaccore.so / libmscordaccore.dylib beside a local libcoreclr whose build id is the dumped module's. On a
/// Windows host a Windows dump's DAC is left to ClrMD's own download policy (signature-checked). Never guesses: a
/// runtime whose DAC cannot load here (another OS's, another build's) gives a failure naming its version and the remedy.
/// </summary>
public static class DacLocator
{
    public const string HowUser = "-DacPath";

    /// <summary>The dotnet install roots searched, in order, without duplicates or missing folders.</summary>
    public static IReadOnlyList<string> DotnetRoots()
    {
        var roots = new List<string>();
        void Add(string? dir)
        {
            if (string.IsNullOrEmpty(dir)) return;
            try { dir = Path.GetFullPath(dir); } catch (Exception) { return; }
            if (Directory.Exists(dir) && !roots.Contains(dir)) roots.Add(dir);
        }
        Add(Environment.GetEnvironmentVariable("DOTNET_ROOT"));
        Add(Environment.GetEnvironmentVariable("DOTNET_ROOT_" + RuntimeInformation.ProcessArchitecture.ToString().ToUpperInvariant()));
        if (OperatingSystem.IsWindows())
        {
            Add(Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ProgramFiles), "dotnet"));
        }
        else
        {
            Add("/usr/share/dotnet");
            Add("/usr/lib/dotnet");
            Add("/usr/lib64/dotnet");
            Add("/usr/local/share/dotnet");
            Add("/opt/dotnet");
        }
        // The running runtime: <root>/shared/Microsoft.NETCore.App/<version>/
        string running = RuntimeEnvironment.GetRuntimeDirectory().TrimEnd('/', '\\');
        Add(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(running))));
        return roots;
    }

    public static DacResolution Resolve(Dump dump, ClrRuntimeModule runtime, string? userDacPath)
    {
        string version = runtime.DisplayVersion;
        if (userDacPath is not null)
        {
            return File.Exists(userDacPath)
                ? new DacResolution(runtime, Path.GetFullPath(userDacPath), HowUser, null, null)
                : new DacResolution(runtime, null, null,
                    $"The DAC given with -DacPath does not exist: {userDacPath}.",
                    $"Give -DacPath the mscordaccore of {version} ({Describe(runtime.Module)}).");
        }

        string host = HostPlatform();
        if (runtime.Platform != host)
        {
            string dacName = DacFileName(runtime.Platform);
            return new DacResolution(runtime, null, null,
                $"{dump.Path} holds {version} for {runtime.Platform} ({runtime.Module.Name}); its DAC ({dacName}) is a {runtime.Platform} library that cannot be loaded on this {host} host.",
                $"Analyse the dump on {runtime.Platform}, where DumpShell finds the DAC next to a local runtime of that build " +
                (runtime.Platform == "Windows" ? "or ClrMD downloads the signed one" : "") +
                $"; on {runtime.Platform} a DAC can also be given with -DacPath.");
        }
        if (RuntimeInformation.ProcessArchitecture != DumpDataReader.ArchitectureOf(dump.Architecture))
        {
            return new DacResolution(runtime, null, null,
                $"{dump.Path} is a {dump.Architecture} process's dump ({version}); this host runs {RuntimeInformation.ProcessArchitecture}, and the DAC loads only into a process of the dump's architecture.",
                $"Analyse the dump on a {dump.Architecture} host, or give -DacPath a DAC built for this host that targets {dump.Architecture}.");
        }

        if (host == "Windows")
            return ResolveWindows(runtime);

        string? buildId = runtime.Module.BuildId;
        if (string.IsNullOrEmpty(buildId))
        {
            return new DacResolution(runtime, null, null,
                $"{dump.Path} does not record the build id of its {runtime.Module.Name} ({version}), so no local runtime can be matched to it.",
                $"Give -DacPath the {DacFileName(host)} that came with that very runtime build.");
        }

        string coreclrName = runtime.Module.Name;
        string dac = DacFileName(host);
        foreach (var (dir, how) in Candidates(runtime))
        {
            string localCoreclr = Path.Combine(dir, coreclrName);
            string localDac = Path.Combine(dir, dac);
            if (!File.Exists(localDac) || !File.Exists(localCoreclr)) continue;
            if (string.Equals(ElfBuildId.HexFromFile(localCoreclr), buildId, StringComparison.OrdinalIgnoreCase))
                return new DacResolution(runtime, localDac, $"{how}: {localCoreclr} has the dump's build id {buildId.ToLowerInvariant()}", null, null);
        }
        return new DacResolution(runtime, null, null,
            $"No runtime on this host has a {coreclrName} with the build id {buildId.ToLowerInvariant()} of the dump's {version} (searched {string.Join(", ", DotnetRoots())}).",
            $"Install {version} (the same build) on this host, or give -DacPath the {dac} of that build.");
    }

    /// <summary>Folders to try, most likely first: the dump's own runtime folder, then each root's runtime of the same version, then every other.</summary>
    private static IEnumerable<(string Dir, string How)> Candidates(ClrRuntimeModule runtime)
    {
        var seen = new HashSet<string>();
        if (runtime.Module.Path is { } p && ClrRuntimeModule.DirectoryOf(p) is { } dumped && seen.Add(dumped))
            yield return (dumped, "The dump's runtime folder");
        foreach (var root in DotnetRoots())
        {
            string shared = Path.Combine(root, "shared", "Microsoft.NETCore.App");
            if (!Directory.Exists(shared)) continue;
            string[] versions;
            try { versions = Directory.GetDirectories(shared); } catch (Exception) { continue; }
            foreach (var dir in versions.OrderByDescending(d => Path.GetFileName(d) == runtime.Version).ThenBy(d => d, StringComparer.Ordinal))
                if (seen.Add(dir)) yield return (dir, $"Local runtime under {root}");
        }
    }

    private static DacResolution ResolveWindows(ClrRuntimeModule runtime)
    {
        // Beside the dump's coreclr.dll/clr.dll when that file is here and is the same build (timestamp and size).
        if (runtime.Module.Path is { } p && ClrRuntimeModule.DirectoryOf(p) is { } dir && File.Exists(p))
        {
            string dac = Path.Combine(dir, runtime.Flavor == "Desktop" ? "mscordacwks.dll" : "mscordaccore.dll");
            try
            {
                using var stream = File.OpenRead(p);
                using var pe = new System.Reflection.PortableExecutable.PEReader(stream);
                var header = pe.PEHeaders;
                if (File.Exists(dac) && (uint)header.CoffHeader.TimeDateStamp == runtime.Module.TimeDateStamp &&
                    (uint)(header.PEHeader?.SizeOfImage ?? 0) == runtime.Module.Size)
                    return new DacResolution(runtime, dac, $"The dump's runtime folder: {p} has the dump's timestamp and size", null, null);
            }
            catch (Exception)
            {
                // Not readable as PE: fall through to ClrMD's download.
            }
        }
        // ClrMD's own policy: the matching DAC from the symbol server, signature-checked.
        return new DacResolution(runtime, null, "ClrMD's symbol-server download (signature-checked)", null, null);
    }

    public static string HostPlatform() =>
        OperatingSystem.IsWindows() ? "Windows" : OperatingSystem.IsMacOS() ? "macOS" : "Linux";

    public static string DacFileName(string platform) => platform switch
    {
        "Windows" => "mscordaccore.dll",
        "macOS" => "libmscordaccore.dylib",
        _ => "libmscordaccore.so",
    };

    private static string Describe(DumpModule m) =>
        m.BuildId is { } id ? $"{m.Name} build id {id.ToLowerInvariant()}" : $"{m.Name} timestamp 0x{m.TimeDateStamp:x8}";
}
