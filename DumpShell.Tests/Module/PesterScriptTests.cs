using System.Management.Automation.Language;

namespace DumpShell.Tests.Module;

/// <summary>
/// The Pester tests need pwsh and Pester, which CI here lacks; this at least keeps them parsing and keeps
/// them calling only cmdlets that exist.
/// </summary>
public sealed class PesterScriptTests
{
    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(Path.Combine(TestData.RepoRoot, "DumpShell.Tests"), "*.Tests.ps1"))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Parses_and_uses_only_exported_DumpShell_cmdlets(string name)
    {
        var ast = Parser.ParseFile(Path.Combine(TestData.RepoRoot, "DumpShell.Tests", name), out _, out var errors);
        Assert.Empty(errors);
        var manifest = File.ReadAllText(Path.Combine(TestData.RepoRoot, "DumpShell.psd1"));
        var used = ast.FindAll(a => a is CommandAst, true).Cast<CommandAst>()
            .Select(c => c.GetCommandName()).Where(n => n is not null && n.Contains("-Dump", StringComparison.Ordinal))
            .Concat(ast.FindAll(a => a is CommandAst, true).Cast<CommandAst>().Select(c => c.GetCommandName())
                .Where(n => n is "Open-Dump" or "Close-Dump"))
            .Distinct();
        Assert.All(used, n => Assert.Contains($"'{n}'", manifest));
        Assert.NotEmpty(used);
    }
}
