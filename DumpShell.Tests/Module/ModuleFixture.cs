using DumpShell.Cli;

namespace DumpShell.Tests.Module;

/// <summary>
/// One runspace with DumpShell.psd1 imported the way a user imports it, its location set to ../shared/dumps
/// so scripts use the relative paths a person would type. Shared by the tests of one class.
/// </summary>
public sealed class ModuleFixture : IDisposable
{
    public ModuleSession Session { get; }

    public ModuleFixture()
    {
        // PowerShell's cache and module folders go under artifacts/, not the user's home.
        ModuleSession.ConfigureProcessEnvironment(Path.Combine(TestData.RepoRoot, "artifacts", "state"));
        Session = new ModuleSession(Path.Combine(TestData.RepoRoot, "DumpShell.psd1"), new TextHost(new StringWriter(), width: 120));
        Session.SetLocation(TestData.SharedDumps);
    }

    public void Dispose() => Session.Dispose();
}
