using System.Management.Automation;
using System.Text.RegularExpressions;
using DumpShell.Model;

namespace DumpShell.Tests.Module;

/// <summary>Get-DumpDisassembly (u, ub, uf) as a user drives it, against the dump factory's truth and the MANIFEST.</summary>
public sealed partial class DisassemblyCmdletTests(ModuleFixture fixture) : IClassFixture<ModuleFixture>
{
    private readonly Cli.ModuleSession _ps = fixture.Session;
    private static string Symbols => Path.Combine(TestData.Wine, "symbols");
    private static string AvDump => TestData.WineDump("av_null_write_pdb_x64");

    [GeneratedRegex(@"\x1b\[")]
    private static partial Regex Ansi();

    private static string Id(ErrorRecord e) => e.FullyQualifiedErrorId.Split(',')[0];

    private DisassemblyLine[] Lines(string script, params object?[] args)
    {
        var r = _ps.Invoke(script, args);
        Assert.Empty(r.Errors);
        return r.BaseObjects.OfType<DisassemblyLine>().ToArray();
    }

    private string Render(string script)
    {
        string text = _ps.Render(script);
        Assert.DoesNotMatch(Ansi(), text);
        Assert.DoesNotContain("#ERR", text);
        return text;
    }

    [Fact]
    public void U_shows_the_faulting_store_of_sigsegv()
    {
        // MANIFEST: `movl $0x0, 0x0` in AT&T is this store of 0 to address 0, in WinDbg's (MASM) syntax.
        var line = Assert.Single(Lines("Get-DumpDisassembly lldb/sigsegv.dmp -Address 7ff7a13110d9 -Count 1"));
        Assert.Equal(0x7ff7a13110d9UL, line.Address);
        Assert.Equal("mov dword ptr [0],0", line.Instruction);
        Assert.Equal("c704250000000000000000", line.Bytes);
        // 16 instructions by default, unless the 256 bytes the dump holds around the fault run out first, which a last
        // line then says.
        var lines = Lines("Get-DumpDisassembly -Path lldb/sigsegv.dmp -Address 0x7ff7a13110d9");
        Assert.True(lines.Count(l => l.IsAvailable) == 16 || !lines[^1].IsAvailable);
        Assert.Equal(8, Lines("Get-DumpDisassembly -Path lldb/sigsegv.dmp -Address 0x7ff7a13110d9 -Backward").Length);
    }

    [Fact]
    public void Uf_lists_the_truth_function_from_its_first_instruction_to_its_ret()
    {
        // truth: write_null at rva 0x1510, 33 bytes (llvm-pdbutil), in av_null_write_pdb.exe at 0x140000000.
        var truth = TestData.Truth("av_null_write_pdb_x64").GetProperty("symbols").GetProperty("functions").EnumerateArray()
            .Single(f => f.GetProperty("name").GetString() == "write_null");
        ulong start = 0x140000000 + Convert.ToUInt64(truth.GetProperty("rva").GetString(), 16);
        ulong end = start + truth.GetProperty("size").GetUInt64();

        var lines = Lines("Get-DumpDisassembly -Path $args[0] -Address $args[1] -Function -SymbolPath $args[2]", AvDump, start + 0x18, Symbols);
        Assert.Equal(start, lines[0].Address);
        Assert.Equal("av_null_write_pdb!write_null", lines[0].Symbol);
        Assert.Equal(end, lines[^1].Address + (ulong)lines[^1].Length);
        Assert.True(lines[^1].IsReturn);
        Assert.Equal("ret", lines[^1].Instruction);
        // The faulting store at write_null+0x18 (truth: exception address 0x140001528, writing 0x18).
        Assert.Equal("mov dword ptr [rax+0x18],ecx", lines.Single(l => l.Address == 0x140001528).Instruction);
    }

    [Fact]
    public void U_at_main_names_the_call_to_the_scenario_function()
    {
        var lines = Lines("Get-DumpDisassembly $args[0] -Address 0x140001540 -Count 120 -SymbolPath $args[1]", AvDump, Symbols);
        Assert.Equal("av_null_write_pdb!main", lines[0].Symbol);
        var call = lines.First(l => l.IsCall && l.TargetSymbol == "av_null_write_pdb!write_null");
        Assert.Equal(0x140001510UL, call.Target);
        Assert.Equal("call av_null_write_pdb!write_null (0x0000000140001510)", call.Instruction);
        // An import call names its slot (and the dump holds no IAT here, so no target is made up).
        var import = lines.First(l => l.Instruction.StartsWith("call qword ptr [av_null_write_pdb!__imp_"));
        Assert.True(import.IsCall);
    }

    [Fact]
    public void Ub_at_frame_1s_return_address_ends_with_the_call_that_made_it()
    {
        var frames = _ps.Invoke("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1]", AvDump, Symbols).BaseObjects.OfType<StackFrame>().ToArray();
        ulong returnAddress = frames[0].ReturnAddress!.Value;
        Assert.Equal(frames[1].InstructionPointer, returnAddress);

        // The frame pipes in: DumpPath and InstructionPointer bind to -Path and -Address.
        var lines = Lines("Get-DumpStack -Path $args[0] -Exception -SymbolPath $args[1] | Where-Object Frame -eq 1 | Get-DumpDisassembly -Backward -SymbolPath $args[1]",
            AvDump, Symbols);
        Assert.Equal(8, lines.Length);
        var call = lines[^1];
        Assert.True(call.IsCall);
        Assert.Equal(returnAddress, call.Address + (ulong)call.Length);
        Assert.Equal("av_null_write_pdb!write_null", call.TargetSymbol);
        Assert.StartsWith("av_null_write_pdb!main+0x", lines[0].Symbol);
    }

    [Fact]
    public void Errors_name_what_is_wrong()
    {
        var r = _ps.Invoke("Get-DumpDisassembly -Path $args[0] -Address 0x10", AvDump);
        Assert.Equal("CodeNotAvailable", Id(Assert.Single(r.Errors)));
        Assert.Empty(r.Output);
        r = _ps.Invoke("Get-DumpDisassembly -Path $args[0] -Address 0x10 -Backward", AvDump);
        Assert.Equal("CodeNotAvailable", Id(Assert.Single(r.Errors)));
        // ntdll+0x5dca8: Wine's builtin ntdll, whose image neither the dump nor the symbol store holds.
        r = _ps.Invoke("Get-DumpDisassembly -Path $args[0] -Address 0x17005dca8 -Function -SymbolPath $args[1]", AvDump, Symbols);
        var error = Assert.Single(r.Errors);
        Assert.Equal("FunctionNotKnown", Id(error));
        Assert.Contains("ntdll+0x5dca8", error.Exception.Message);
        r = _ps.Invoke("Get-DumpDisassembly -Path $args[0] -Address 0x140001510 -Function -Backward", AvDump);
        Assert.Equal("BackwardWithFunction", Id(Assert.Single(r.Errors)));
    }

    [Fact]
    public void U_view_reads_like_windbg()
    {
        string text = Render($"Get-DumpDisassembly -Path '{AvDump}' -Address 0x140001510 -Count 3 -SymbolPath '{Symbols}'");
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r').TrimEnd()).Where(l => l.Length > 0).ToArray();
        Assert.Equal(
        [
            "av_null_write_pdb!write_null:",
            "0x0000000140001510 55               push rbp",
            "0x0000000140001511 4883ec10         sub rsp,0x10",
            "0x0000000140001515 488d6c2410       lea rbp,[rsp+0x10]",
        ], lines);
        Assert.DoesNotContain("Disassembly", text); // no header

        text = Render($"Get-DumpDisassembly -Path '{AvDump}' -Address 0x1400016c4 -Count 1 -SymbolPath '{Symbols}'");
        Assert.Contains("av_null_write_pdb!main+0x184:", text);
        Assert.Contains("0x00000001400016c4 e847feffff       call av_null_write_pdb!write_null (0x0000000140001510)", text);
    }

    [Fact]
    public void List_view_items_evaluate()
    {
        // The launcher's runspace has no Format-List (Microsoft.PowerShell.Utility is not shipped with the tests), so
        // each list item is evaluated as the formatter would: properties read, script blocks run with $_ bound.
        var line = Lines("Get-DumpDisassembly -Path $args[0] -Address 0x1400016c4 -Count 1 -SymbolPath $args[1]", AvDump, Symbols).Single();
        var items = ListViewCheck.Evaluate(_ps, "DumpShell.Disassembly.format.ps1xml", "DumpShell.Model.DisassemblyLine", line);
        Assert.Equal("0x00000001400016c4", items["Address"]);
        Assert.Equal("av_null_write_pdb!main+0x184", items["Symbol"]);
        Assert.Equal("e847feffff", items["Bytes"]);
        Assert.Equal("0x0000000140001510", items["Target"]);
        Assert.Equal("av_null_write_pdb!write_null", items["TargetSymbol"]);
        Assert.Equal("True", items["IsCall"]);
    }
}

/// <summary>Evaluates a list view's items for one object, as Format-List would, failing on an error or a missing property.</summary>
internal static class ListViewCheck
{
    public static Dictionary<string, string> Evaluate(Cli.ModuleSession ps, string formatFile, string typeName, object sample)
    {
        var doc = System.Xml.Linq.XDocument.Load(Path.Combine(TestData.RepoRoot, "formats", formatFile));
        var view = doc.Descendants("View").Single(v =>
            v.Element("ViewSelectedBy")!.Element("TypeName")!.Value == typeName && v.Element("ListControl") is not null);
        var values = new Dictionary<string, string>();
        foreach (var item in view.Descendants("ListItem"))
        {
            string? property = item.Element("PropertyName")?.Value;
            string label = item.Element("Label")?.Value ?? property!;
            string script = property is not null ? $"$_.{property}" : item.Element("ScriptBlock")!.Value;
            if (property is not null) Assert.NotNull(sample.GetType().GetProperty(property));
            var r = ps.Invoke("$args[0] | ForEach-Object ([scriptblock]::Create($args[1]))", sample, script);
            Assert.Empty(r.Errors);
            values[label] = string.Join(" ", r.Output.Select(o => o?.ToString()));
        }
        return values;
    }
}
