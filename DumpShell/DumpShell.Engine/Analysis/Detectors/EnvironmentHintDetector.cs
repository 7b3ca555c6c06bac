using DumpShell.Machine;
using DumpShell.Model;

namespace DumpShell.Analysis.Detectors;

/// <summary>
/// Environment Hint: the command line, current directory and the variables of a curated table (__COMPAT_LAYER,
/// COMPlus_*/DOTNET_*, COR_*/CORECLR_*, _NT_*, PROCESSOR_ARCHITECTURE differing from the dump, user-writable PATH
/// entries ahead of System32, *_DEBUG/*_TRACE/*_LOG_LEVEL switches). Secrets are redacted; standard variables are not
/// reported. Warning for __COMPAT_LAYER or an enabled profiler unless the run expects them.
/// </summary>
internal sealed class EnvironmentHintDetector : IDetector
{
    private const int MaxEvidenceChars = 1500;
    private static readonly string[] SecretWords = ["PASSWORD", "SECRET", "TOKEN", "KEY", "CONNECTIONSTRING"];
    private static readonly string[] UserWritable = [@"\users\", @"\appdata\", @"\temp\", @"\tmp\", @"\downloads\", @"\documents and settings\"];

    public string Pattern => "Environment Hint";

    public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
    {
        if (!dump.HasWindowsTebLayout) yield break;
        var env = dump.ProcessEnvironment;
        if (env is null || (env.CommandLine is null && env.Environment is null))
        {
            yield return context.NotEvaluated(Pattern, "process-parameters",
                "process parameters not captured (needs MiniDumpWithProcessThreadData or full memory)",
                "Capture with procdump -ma, or MiniDumpWriteDump with MiniDumpWithProcessThreadData.");
            yield break;
        }

        var hints = new List<string>();
        var names = new List<string>();
        bool warn = false;
        var expected = new HashSet<string>(context.Options.ExpectedVariables, StringComparer.OrdinalIgnoreCase);
        foreach (var v in env.Environment ?? [])
        {
            string name = v.Name;
            if (name.StartsWith('=')) continue;
            string upper = name.ToUpperInvariant();
            bool curated = upper == "__COMPAT_LAYER" || upper.StartsWith("COMPLUS_", StringComparison.Ordinal) ||
                upper.StartsWith("DOTNET_", StringComparison.Ordinal) || upper.StartsWith("COR_", StringComparison.Ordinal) ||
                upper.StartsWith("CORECLR_", StringComparison.Ordinal) || upper.StartsWith("_NT_", StringComparison.Ordinal) ||
                upper.EndsWith("_DEBUG", StringComparison.Ordinal) || upper.EndsWith("_TRACE", StringComparison.Ordinal) ||
                upper.EndsWith("_LOG_LEVEL", StringComparison.Ordinal);
            if (!curated) continue;
            hints.Add($"{name}={Redact(name, v.Value)}");
            names.Add(upper);
            if (!expected.Contains(name) &&
                (upper == "__COMPAT_LAYER" || (upper is "COR_ENABLE_PROFILING" or "CORECLR_ENABLE_PROFILING" && v.Value.Trim() == "1")))
                warn = true;
        }

        string expectedArch = env.IsWow64Peb || dump.Architecture == CpuArchitecture.X86 ? "x86" : "AMD64";
        if (env.GetVariable("PROCESSOR_ARCHITECTURE") is { } arch && !arch.Equals(expectedArch, StringComparison.OrdinalIgnoreCase))
        {
            hints.Add($"PROCESSOR_ARCHITECTURE={arch} in a {expectedArch} process (WOW64 or emulation hint)");
            names.Add("PROCESSOR_ARCHITECTURE");
        }

        if (env.GetVariable("PATH") is { } path)
        {
            string systemRoot = (env.GetVariable("SystemRoot") ?? @"C:\Windows").TrimEnd('\\');
            string system32 = systemRoot + @"\system32";
            foreach (string raw in path.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string entry = raw.Trim('"').TrimEnd('\\');
                if (entry.Equals(system32, StringComparison.OrdinalIgnoreCase) ||
                    entry.Equals(@"%SystemRoot%\system32", StringComparison.OrdinalIgnoreCase)) break;
                bool relative = !(entry.Length >= 2 && entry[1] == ':') && !entry.StartsWith(@"\\", StringComparison.Ordinal) && !entry.StartsWith('%');
                string probe = entry.ToLowerInvariant() + @"\";
                if (relative || UserWritable.Any(probe.Contains))
                {
                    hints.Add($"PATH has {raw} ahead of {system32}");
                    names.Add("PATH");
                    break;
                }
            }
        }

        string evidence = $"Command line: {Quote(env.CommandLine)}; current directory: {Quote(env.CurrentDirectory)}; " +
            (hints.Count > 0 ? string.Join("; ", hints) : $"no variable of the curated table among {env.Environment?.Count ?? 0} variables");
        if (env.Environment is null) evidence += " (environment block not captured)";
        yield return context.Create(Pattern, warn ? Severity.Warning : Severity.Info, Text.Clip(evidence, MaxEvidenceChars),
            names.Count > 0 ? string.Join(",", names.Select(n => n.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal)) : "none",
            module: dump.Modules.Count > 0 ? dump.Modules[0].Name : null, address: env.ProcessParametersAddress,
            recommendation: warn ? "A compatibility layer or profiler changes how the program runs: check that it is intended (Get-DumpEnvironment lists every variable)." : null);
    }

    private static string Quote(string? s) => s is null ? "(not captured)" : $"\"{s}\"";

    private static string Redact(string name, string value) =>
        SecretWords.Any(w => name.Contains(w, StringComparison.OrdinalIgnoreCase)) ? "***" : value;
}
