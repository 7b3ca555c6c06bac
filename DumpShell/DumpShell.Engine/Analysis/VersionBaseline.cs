using System.Text.Json;

namespace DumpShell.Analysis;

/// <summary>Reads a Not My Version baseline: CSV rows "Module,MinVersion[,MaxVersion]" (a header row is optional) or a JSON array of such objects.</summary>
public static class VersionBaseline
{
    /// <summary>Loads a baseline file. Throws <see cref="FormatException"/> (naming the line or item) when it cannot be read.</summary>
    public static IReadOnlyList<VersionBaselineEntry> Load(string path)
    {
        string text = File.ReadAllText(path);
        return text.TrimStart().StartsWith('[') ? ParseJson(text) : ParseCsv(text);
    }

    public static IReadOnlyList<VersionBaselineEntry> ParseCsv(string text)
    {
        var rows = new List<VersionBaselineEntry>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var cells = line.Split(',').Select(c => c.Trim().Trim('"')).ToArray();
            if (rows.Count == 0 && cells[0].Equals("Module", StringComparison.OrdinalIgnoreCase)) continue;
            if (cells[0].Length == 0) throw new FormatException($"Baseline line {i + 1}: no module name.");
            rows.Add(new VersionBaselineEntry(cells[0], ParseVersion(cells.ElementAtOrDefault(1), $"line {i + 1}", 0),
                ParseVersion(cells.ElementAtOrDefault(2), $"line {i + 1}", int.MaxValue)));
        }
        return rows;
    }

    public static IReadOnlyList<VersionBaselineEntry> ParseJson(string text)
    {
        var rows = new List<VersionBaselineEntry>();
        using var doc = JsonDocument.Parse(text);
        int index = 0;
        foreach (var item in doc.RootElement.EnumerateArray())
        {
            string? Get(string name) =>
                item.EnumerateObject().FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Value is { ValueKind: JsonValueKind.String } v
                    ? v.GetString() : null;
            string module = Get("Module") ?? throw new FormatException($"Baseline item {index}: no Module.");
            rows.Add(new VersionBaselineEntry(module, ParseVersion(Get("MinVersion"), $"item {index}", 0),
                ParseVersion(Get("MaxVersion"), $"item {index}", int.MaxValue)));
            index++;
        }
        return rows;
    }

    /// <summary>A version with its missing parts filled with <paramref name="fill"/> (0 for a minimum, int.MaxValue for a maximum: "2.3" allows 2.3.*).</summary>
    private static Version? ParseVersion(string? text, string where, int fill)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!Version.TryParse(text.Contains('.') ? text : text + ".0", out var v))
            throw new FormatException($"Baseline {where}: '{text}' is not a version.");
        return new Version(v.Major, v.Minor, v.Build < 0 ? fill : v.Build, v.Revision < 0 ? fill : v.Revision);
    }
}
