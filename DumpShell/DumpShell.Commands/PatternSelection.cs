using System.Management.Automation;
using DumpShell.Analysis;
using DumpShell.Model;

namespace DumpShell.Commands;

/// <summary>-Name and -Category of Get-DumpPattern and Invoke-DumpPattern: catalogue patterns by name, alias or detector id, with wildcards.</summary>
internal static class PatternSelection
{
    /// <summary>
    /// The patterns matching every given filter, in catalogue order. A name or category that matches nothing writes one
    /// ErrorRecord (PatternNotFound / CategoryNotFound) and is skipped.
    /// </summary>
    public static IReadOnlyList<PatternInfo> Select(PSCmdlet cmdlet, string[]? names, string[]? categories)
    {
        IEnumerable<PatternInfo> result = PatternCatalog.Patterns;
        if (names is { Length: > 0 })
        {
            var matched = new HashSet<string>(StringComparer.Ordinal);
            foreach (string name in names)
            {
                var pattern = new WildcardPattern(name.Trim(), WildcardOptions.IgnoreCase);
                var hits = PatternCatalog.Patterns.Where(p => PatternCatalog.NamesOf(p).Any(pattern.IsMatch)).ToArray();
                if (hits.Length == 0)
                {
                    cmdlet.WriteError(new ErrorRecord(
                        new ItemNotFoundException($"'{name}' is not a pattern name, alias or detector id of the catalogue (Get-DumpPattern lists them)."),
                        "PatternNotFound", ErrorCategory.ObjectNotFound, name));
                }
                foreach (var hit in hits) matched.Add(hit.Name);
            }
            result = result.Where(p => matched.Contains(p.Name));
        }
        if (categories is { Length: > 0 })
        {
            var wildcards = categories.Select(c => new WildcardPattern(c.Trim(), WildcardOptions.IgnoreCase)).ToArray();
            foreach (var (text, w) in categories.Zip(wildcards))
                if (!PatternCatalog.Patterns.Any(p => w.IsMatch(p.Category)))
                    cmdlet.WriteError(new ErrorRecord(
                        new ItemNotFoundException($"'{text}' is not a category of the catalogue (Get-DumpPattern | Group-Object Category lists them)."),
                        "CategoryNotFound", ErrorCategory.ObjectNotFound, text));
            result = result.Where(p => wildcards.Any(w => w.IsMatch(p.Category)));
        }
        return result.ToArray();
    }
}
