using System.Management.Automation;
using System.Text.RegularExpressions;
using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpStack -Raw (dps over the stack range) on the dump factory's dumps.</summary>
public sealed partial class RawStackCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private static string Symbols => Path.Combine(TestData.Wine, "symbols");
    private static string AvDump => TestData.WineDump("av_null_write_pdb_x64");

    [GeneratedRegex(@"\x1b\[")]
    private static partial Regex Ansi();

    private RawStackSlot[] Slots(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        Assert.Empty(r.Errors);
        return r.BaseObjects.OfType<RawStackSlot>().ToArray();
    }

    [Fact]
    public void Raw_stack_of_the_exception_thread_marks_frame_1s_return_address()
    {
        var truth = TestData.Truth("av_null_write_pdb_x64").GetProperty("exception");
        uint thread = truth.GetProperty("thread").GetUInt32();
        ulong rsp = Convert.ToUInt64(truth.GetProperty("context").GetProperty("rsp").GetString(), 16);
        var frames = _ps.Invoke("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1]", AvDump, Symbols).BaseObjects.OfType<StackFrame>().ToArray();
        ulong returnAddress = frames[0].ReturnAddress!.Value;
        var stackBase = (ulong)_ps.Invoke("(Get-DumpThread -Path $args[0] -ThreadId $args[1]).StackBase", AvDump, thread).BaseObjects.Single();

        var slots = Slots("Get-DumpStack -Path $args[0] -Exception -Raw -SymbolPath $args[1]", AvDump, Symbols);
        // From the exception context's rsp (truth) up to the stack base, every slot.
        Assert.Equal(rsp, slots[0].Address);
        Assert.Equal(stackBase, slots[^1].Address + 8);
        Assert.Equal((int)((stackBase - rsp) / 8), slots.Length);
        Assert.All(slots, s => Assert.Equal(thread, s.ThreadId));

        // The return address sits right below frame 1's Child-SP.
        var slot = Assert.Single(slots, s => s.Address == frames[1].ChildSP - 8);
        Assert.Equal(returnAddress, slot.Value);
        Assert.True(slot.IsReturnAddress);
        Assert.False(slot.LooksLikeCode);
        Assert.StartsWith("av_null_write_pdb!main+0x", slot.Symbol);

        // Small integers (the scenario's 0x1234 argument among them) are neither.
        var small = slots.Where(s => s.Value is < 0x10000).ToArray();
        Assert.NotEmpty(small);
        Assert.All(small, s => Assert.False(s.IsReturnAddress || s.LooksLikeCode || s.Symbol is not null));

        // The same thread selected by id starts at the exception context too.
        var byId = Slots("Get-DumpStack -Path $args[0] -ThreadId $args[1] -Raw -SymbolPath $args[2] -MaxSlots 4", AvDump, thread, Symbols);
        Assert.Equal(slots.Take(4).Select(s => (s.Address, s.Value)), byId.Select(s => (s.Address, s.Value)));
    }

    [Fact]
    public void Every_thread_has_a_raw_stack_and_max_slots_warns()
    {
        var r = _ps.Invoke("Get-DumpStack -Path $args[0] -Raw -MaxSlots 2", TestData.WineDump("spin_x64"));
        Assert.Empty(r.Errors);
        var slots = r.BaseObjects.OfType<RawStackSlot>().ToArray();
        var threads = TestData.Truth("spin_x64").GetProperty("threads").EnumerateArray().Select(t => t.GetProperty("tid").GetUInt32()).Order();
        Assert.Equal(threads, slots.Select(s => s.ThreadId).Distinct().Order());
        Assert.All(slots.GroupBy(s => s.ThreadId), g => Assert.Equal(2, g.Count()));
        Assert.NotEmpty(r.Warnings);
    }

    [Fact]
    public void Raw_view_reads_like_dps()
    {
        string text = _ps.Render($"Get-DumpStack -Path '{AvDump}' -Exception -Raw -SymbolPath '{Symbols}' -MaxSlots 8");
        Assert.DoesNotMatch(Ansi(), text);
        Assert.DoesNotContain("#ERR", text);
        Assert.Contains("thread 0xf0 (240)", text);
        Assert.Matches(@"\n0x000000000011fd08 0x00000001400016c9 ret av_null_write_pdb!main\+0x189\s*\n", text);
        Assert.Matches(@"\n0x000000000011fcf8 0x0000000000000000\s*\n", text);
        Assert.DoesNotContain("Value", text); // no header
    }

    [Fact]
    public void List_view_items_evaluate()
    {
        var slot = Slots("Get-DumpStack -Path $args[0] -Exception -Raw -SymbolPath $args[1] -MaxSlots 8", AvDump, Symbols)
            .First(s => s.IsReturnAddress);
        var items = ListViewCheck.Evaluate(_ps, "DumpShell.Stacks.format.ps1xml", "DumpShell.Model.RawStackSlot", slot);
        Assert.Equal("0xf0 (240)", items["ThreadId"]);
        Assert.Equal("0x000000000011fd08", items["Address"]);
        Assert.Equal("0x00000001400016c9", items["Value"]);
        Assert.Equal("av_null_write_pdb!main+0x189", items["Symbol"]);
        Assert.Equal("True", items["IsReturnAddress"]);
        Assert.Equal("Call", items["CallSite"]);
    }
}
