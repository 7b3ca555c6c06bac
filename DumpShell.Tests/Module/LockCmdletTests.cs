using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpCriticalSection and Get-DumpWaitChain as a user drives them, with their views.</summary>
public sealed class LockCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;

    private T[] Run<T>(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        Assert.Empty(r.Errors);
        return r.BaseObjects.OfType<T>().ToArray();
    }

    [Fact]
    public void CriticalSection_Locked_returns_the_truths_two_locks_and_Address_reads_one()
    {
        var truth = TestData.Truth("deadlock_cs_x64");
        var expected = truth.GetProperty("locks").EnumerateArray().Select(l => Convert.ToUInt64(l.GetProperty("address").GetString(), 16)).Order();
        var locked = Run<DumpCriticalSection>("Get-DumpCriticalSection -Path $args[0] -Locked", TestData.WineDump("deadlock_cs_x64"));
        Assert.Equal(expected, locked.Select(c => c.Address).Order());

        ulong a = expected.First();
        var one = Assert.Single(Run<DumpCriticalSection>("Get-DumpCriticalSection -Path $args[0] -Address $args[1]", TestData.WineDump("deadlock_cs_x64"), $"0x{a:x}"));
        Assert.Equal(a, one.Address);
        Assert.True(one.IsLocked);
    }

    [Fact]
    public void WaitChain_ThreadId_selects_the_chain_of_one_thread()
    {
        var chains = Run<WaitChain>("Get-DumpWaitChain -Path $args[0] -ThreadId 276", TestData.WineDump("waitchain_x64"));
        var chain = Assert.Single(chains);
        Assert.Equal(276u, chain.ThreadId);
        Assert.Equal([276u, 272u], chain.ThreadIds);
    }

    [Fact]
    public void Views_read_like_locks_and_top_to_bottom()
    {
        string table = _ps.Render($"Get-DumpCriticalSection -Path '{TestData.WineDump("deadlock_cs_x64")}' -Locked");
        Assert.DoesNotContain("#ERR", table);
        Assert.Contains("CritSec", table);
        Assert.Contains("0x000000000021fcd0 Yes    0x10c (locker-AB)", table);
        Assert.Contains("stack of 0xfc (main)", table);

        string chains = _ps.Render($"Get-DumpWaitChain -Path '{TestData.WineDump("waitchain_x64")}' -ThreadId 276");
        Assert.DoesNotContain("#ERR", chains);
        int c = chains.IndexOf("0x114 (chain-C) waits on Thread handle 0x44", StringComparison.Ordinal);
        int a = chains.IndexOf("0x110 (chain-A) waits on Mutant DumpShell_WaitChain_Mutex (handle 0x50)", StringComparison.Ordinal);
        int end = chains.IndexOf("=> owner unknown", StringComparison.Ordinal);
        Assert.True(c >= 0 && a > c && end > a, chains);
    }
}
