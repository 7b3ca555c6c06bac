using System.Text.Json;
using Iced.Intel;
using DumpShell.Machine.Disassembly;
using DumpShell.Machine.Unwind;
using DumpShell.Model;
using DumpShell.Symbols;
using DumpShell.Symbols.Pe;
using DumpShell.Tests.Synth;
using static DumpShell.Tests.Engine.SynthImage;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The disassembler (u, ub, uf) and the raw stack (dps) against facts checked by hand: the lldb sigsegv dump's
/// faulting store (MANIFEST), the Wine _pdb dumps' function extents (truth.json symbols.functions, from llvm-pdbutil)
/// with the executables and PDBs of the symbol store beside them, and synthetic images.
/// </summary>
public sealed class DisassemblerTests : IDisposable
{
    private static string WineSymbols => Path.Combine(TestData.Wine, "symbols");
    private readonly StackWalkDumpFiles _files = new();
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _files.Dispose();
    }

    private Disassembler Open(string path, bool withSymbols, out Dump dump)
    {
        dump = Dump.Open(path);
        var symbols = new DumpSymbols(dump, withSymbols ? new SymbolStore(SymbolPath.Parse(WineSymbols)) : null);
        _owned.Add(dump);
        _owned.Add(symbols);
        return new Disassembler(dump, symbols);
    }

    private static void AssertContiguous(IReadOnlyList<DisassemblyLine> lines)
    {
        for (int i = 1; i < lines.Count; i++)
            Assert.Equal(lines[i - 1].Address + (ulong)lines[i - 1].Length, lines[i].Address);
        Assert.All(lines, l => Assert.Equal(l.Length * 2, l.Bytes.Length));
    }

    public static TheoryData<string, string> PdbFunctions()
    {
        var data = new TheoryData<string, string>();
        foreach (var name in TestData.WineDumpNames().Where(n => n.Contains("_pdb_")))
            foreach (var f in TestData.Truth(name).GetProperty("symbols").Items("functions"))
                data.Add(name, f.Str("name"));
        return data;
    }

    /// <summary>The _pdb dumps with an exception whose scenario names the faulting function (stack_bof's is garbage).</summary>
    public static TheoryData<string> PdbExceptionDumps()
    {
        var data = new TheoryData<string>();
        foreach (var name in TestData.WineDumpNames().Where(n => n.Contains("_pdb_") && !n.StartsWith("stack_bof")))
            if (TestData.Truth(name).GetProperty("exception").ValueKind == JsonValueKind.Object) data.Add(name);
        return data;
    }

    private static (string Exe, ulong Base, ulong Start, ulong End) TruthFunction(Dump dump, string name, string function)
    {
        var symbols = TestData.Truth(name).GetProperty("symbols");
        string exe = symbols.Str("exe");
        var f = symbols.Items("functions").Single(x => x.Str("name") == function);
        ulong imageBase = dump.Modules.Single(m => m.Name.Equals(exe, StringComparison.OrdinalIgnoreCase)).BaseAddress;
        ulong start = imageBase + TruthJson.ParseHex(f.Str("rva"));
        return (Path.GetFileNameWithoutExtension(exe), imageBase, start, start + (ulong)f.Int("size"));
    }

    // ================================================================== lldb/sigsegv.dmp

    [Fact]
    public void Sigsegv_faulting_instruction_is_the_store_to_address_0()
    {
        // MANIFEST: the instruction at 0x7ff7a13110d9 disassembles as `movl $0x0, 0x0` (AT&T, lldb's test).
        var disassembler = Open(TestData.Shared("lldb/sigsegv.dmp"), withSymbols: false, out _);
        var result = disassembler.Forward(0x7ff7a13110d9, 1);
        var line = Assert.Single(result.Lines);
        Assert.Equal(0x7ff7a13110d9UL, line.Address);
        Assert.Equal("mov dword ptr [0],0", line.Instruction);
        Assert.Equal("mov", line.Mnemonic);
        Assert.Equal("c7042500000000" + "00000000", line.Bytes);
        Assert.Equal(11, line.Length);
        Assert.Equal("sigsegv+0x10d9", line.Symbol);

        // The same bytes in AT&T syntax are what lldb printed: a 4-byte store of the immediate 0 to absolute address 0.
        var bytes = Convert.FromHexString(line.Bytes);
        Decoder.Create(64, new ByteArrayCodeReader(bytes), line.Address).Decode(out var instruction);
        var gas = new StringOutput();
        var formatter = new GasFormatter();
        formatter.Options.SmallHexNumbersInDecimal = false; // as lldb prints: $0x0
        formatter.Format(instruction, gas);
        Assert.Equal("movl $0x0,0x0", gas.ToStringAndReset().Replace(", ", ","));
        Assert.Equal(MemorySize.UInt32, instruction.MemorySize);
        Assert.Equal(Register.None, instruction.MemoryBase);
        Assert.Equal(0UL, instruction.MemoryDisplacement64);
    }

    [Fact]
    public void Backward_without_function_data_finds_the_call_before_the_fault()
    {
        // sigsegv.dmp holds 256 bytes of code around the fault and no image headers: ub has to guess the start.
        var disassembler = Open(TestData.Shared("lldb/sigsegv.dmp"), withSymbols: false, out _);
        Assert.Null(disassembler.FindFunction(0x7ff7a13110d9));
        var lines = disassembler.Backward(0x7ff7a13110d9, 8).Lines;
        Assert.Equal(8, lines.Count);
        AssertContiguous(lines);
        Assert.Equal(0x7ff7a13110d9UL, lines[^1].Address + (ulong)lines[^1].Length);
        Assert.True(lines[^1].IsCall);
        Assert.Equal("e840ffffff", lines[^1].Bytes);
        // Forward from the chosen start decodes the same instructions and lands on the faulting store.
        var forward = disassembler.Forward(lines[0].Address, 9).Lines;
        Assert.Equal(lines.Select(l => (l.Address, l.Instruction)), forward.Take(8).Select(l => (l.Address, l.Instruction)));
        Assert.Equal("mov dword ptr [0],0", forward[8].Instruction);
    }

    // ================================================================== Wine _pdb dumps

    [Theory]
    [MemberData(nameof(PdbFunctions))]
    public void Function_gives_exactly_the_pdb_function(string name, string function)
    {
        var disassembler = Open(TestData.WineDump(name), withSymbols: true, out var dump);
        var (exe, _, start, end) = TruthFunction(dump, name, function);

        // From any address inside it.
        var result = disassembler.Function(start + (end - start) / 2);
        Assert.True(result.Succeeded, result.Message);
        Assert.Equal((start, end, "Pdb"), (result.Function!.Start, result.Function.End, result.Function.Source));
        var lines = result.Lines;
        Assert.All(lines, l => Assert.True(l.IsAvailable));
        AssertContiguous(lines);
        Assert.Equal(start, lines[0].Address);
        Assert.Equal(end, lines[^1].Address + (ulong)lines[^1].Length);
        Assert.Equal($"{exe}!{function}", lines[0].Symbol);
        Assert.True(lines[^1].IsReturn || lines[^1].Mnemonic == "jmp", $"{function} ends with {lines[^1].Instruction}");
        // Every branch target inside the function is labelled, as uf labels its blocks.
        foreach (var target in lines.Where(l => l.Target is { } t && t >= start && t < end && !l.IsCall).Select(l => l.Target!.Value))
            Assert.StartsWith($"{exe}!{function}+0x", lines.Single(l => l.Address == target).Symbol);
    }

    [Theory]
    [MemberData(nameof(PdbExceptionDumps))]
    public void Main_calls_the_scenario_function(string name)
    {
        string function = TestData.Truth(name).GetProperty("exception").GetProperty("expected_by_scenario").Str("function").Split(' ')[0];
        var disassembler = Open(TestData.WineDump(name), withSymbols: true, out var dump);
        var (exe, _, main, mainEnd) = TruthFunction(dump, name, "main");
        var (_, _, target, _) = TruthFunction(dump, name, function);

        var lines = disassembler.Forward(main, 400).Lines.TakeWhile(l => l.Address < mainEnd).ToArray();
        Assert.Equal($"{exe}!main", lines[0].Symbol);
        var call = lines.First(l => l.IsCall && l.TargetSymbol == $"{exe}!{function}");
        Assert.Equal(target, call.Target);
        Assert.Equal($"call {exe}!{function} (0x{target:x16})", call.Instruction);
    }

    [Theory]
    [MemberData(nameof(PdbExceptionDumps))]
    public void Backward_from_a_return_address_ends_with_the_call(string name)
    {
        var disassembler = Open(TestData.WineDump(name), withSymbols: true, out var dump);
        var symbols = new DumpSymbols(dump, new SymbolStore(SymbolPath.Parse(WineSymbols)));
        _owned.Add(symbols);
        var frames = dump.WalkExceptionStack(symbols.WalkOptions(64));
        var exe = dump.Modules.Single(m => m.Name == TestData.Truth(name).GetProperty("symbols").Str("exe"));
        // The first caller in the scenario's own code: frame 1 of most, deeper where the fault is in a system DLL.
        ulong returnAddress = frames.Skip(1).First(f => f.InstructionPointer - exe.BaseAddress < exe.Size).InstructionPointer;

        var lines = disassembler.Backward(returnAddress, 8).Lines;
        Assert.Equal(8, lines.Count);
        AssertContiguous(lines);
        Assert.True(lines[^1].IsCall, lines[^1].Instruction);
        Assert.Equal(returnAddress, lines[^1].Address + (ulong)lines[^1].Length);
        // The function's own decoding agrees (ub prefers the known function start).
        var function = disassembler.Function(returnAddress - 1).Lines;
        Assert.Contains(function, l => l.Address == lines[^1].Address && l.Instruction == lines[^1].Instruction);
    }

    [Fact]
    public void Backward_past_a_function_start_continues_into_what_precedes_it()
    {
        // write_null is 11 instructions; 14 back from its end run 3 into main's predecessor padding or code.
        var disassembler = Open(TestData.WineDump("av_null_write_pdb_x64"), withSymbols: true, out var dump);
        var (_, _, start, end) = TruthFunction(dump, "av_null_write_pdb_x64", "write_null");
        var lines = disassembler.Backward(end, 14).Lines;
        Assert.Equal(14, lines.Count);
        AssertContiguous(lines);
        Assert.Equal(end, lines[^1].Address + (ulong)lines[^1].Length);
        Assert.Equal(3, lines.Count(l => l.Address < start));
        Assert.Equal("av_null_write_pdb!write_null", lines.Single(l => l.Address == start).Symbol);
    }

    [Fact]
    public void Errors_say_what_is_missing()
    {
        var disassembler = Open(TestData.WineDump("av_null_write_pdb_x64"), withSymbols: true, out var dump);
        Assert.Equal("CodeNotAvailable", disassembler.Forward(0x10, 16).ErrorId);
        Assert.Equal("CodeNotAvailable", disassembler.Backward(0x10, 8).ErrorId);
        Assert.Equal("FunctionNotKnown", disassembler.Function(0x10).ErrorId);
        // ntdll: Wine's builtin DLL, whose image is neither in the dump nor in the symbol store.
        var ntdll = dump.Modules.Single(m => m.Name == "ntdll.dll");
        var result = disassembler.Function(ntdll.BaseAddress + 0x5dca8);
        Assert.Equal("FunctionNotKnown", result.ErrorId);
        Assert.Contains("ntdll+0x5dca8", result.Message);
        Assert.Equal("CodeNotAvailable", disassembler.Forward(ntdll.BaseAddress + 0x5dca8, 4).ErrorId);
    }

    // ================================================================== synthetic images

    private Dump SynthDump(SynthImage image, IEnumerable<(ulong, byte[])>? extra = null, bool imageInMemory = true)
    {
        var stack = new SynthStack(0x10000, 0x100);
        return _files.Open(SynthStackDump.Builder(image, stack, SynthStackDump.Context(image.Va(Text), 0x10000, 0), imageInMemory, extra));
    }

    [Fact]
    public void Function_uses_the_function_table_without_symbols()
    {
        var image = new SynthImage(0x180000000);
        // f: push rbx; sub rsp,0x20; call g; add rsp,0x20; pop rbx; ret    g: xor eax,eax; ret
        image.Code(Text, 0x53, 0x48, 0x83, 0xEC, 0x20);
        uint afterCall = image.CallRel32(Text + 5, Text + 0x40);
        image.Code(afterCall, 0x48, 0x83, 0xC4, 0x20, 0x5B, 0xC3);
        uint fEnd = afterCall + 6;
        image.Code(Text + 0x40, 0x31, 0xC0, 0xC3);
        image.Function(Text, fEnd, image.Unwind(5, [Op(5, UnwindOpCode.AllocSmall, 3), Op(1, UnwindOpCode.PushNonvol, 3)]));
        image.Function(Text + 0x40, Text + 0x43, image.Unwind(0, []));
        var dump = SynthDump(image);
        using var symbols = new DumpSymbols(dump, null);
        var disassembler = new Disassembler(dump, symbols);

        var result = disassembler.Function(image.Va(Text + 6));
        Assert.Equal(("FunctionTable", image.Va(Text), image.Va(fEnd)), (result.Function!.Source, result.Function.Start, result.Function.End));
        Assert.Equal(["push", "sub", "call", "add", "pop", "ret"], result.Lines.Select(l => l.Mnemonic));
        Assert.Equal("synth+0x1000", result.Lines[0].Symbol);
        var call = result.Lines[2];
        Assert.Equal(image.Va(Text + 0x40), call.Target);
        Assert.Equal("synth+0x1040", call.TargetSymbol);
        Assert.Equal($"call synth+0x1040 (0x{image.Va(Text + 0x40):x16})", call.Instruction);
        Assert.True(result.Lines[^1].IsReturn);

        var ub = disassembler.Backward(image.Va(afterCall), 3).Lines;
        Assert.Equal(["push", "sub", "call"], ub.Select(l => l.Mnemonic));
        Assert.Equal(image.Va(Text), ub[0].Address);
    }

    [Fact]
    public void Code_that_runs_out_ends_with_a_line_that_says_so()
    {
        // Code outside every module, 6 bytes of it: two instructions, then nothing.
        var image = new SynthImage(0x180000000);
        var dump = SynthDump(image, [(0x50000UL, new byte[] { 0x90, 0x48, 0x89, 0xC8, 0x90, 0x48 })]);
        using var symbols = new DumpSymbols(dump, null);
        var lines = new Disassembler(dump, symbols).Forward(0x50000, 16).Lines;
        Assert.Equal(["nop", "mov", "nop", null], lines.Select(l => l.Mnemonic));
        Assert.Equal("mov rax,rcx", lines[1].Instruction);
        Assert.Null(lines[0].Symbol);
        var last = lines[^1];
        Assert.False(last.IsAvailable);
        Assert.Equal(0x50005UL, last.Address); // the lone REX prefix is not an instruction: no invented bytes
        Assert.Equal("", last.Bytes);
    }

    [Fact]
    public void Indirect_calls_through_an_import_slot_name_the_pointer_the_dump_holds()
    {
        var image = new SynthImage(0x180000000);
        // call qword ptr [rip+disp] to a slot in .data holding the address of g.
        uint slot = Data + 0x10;
        image.Code(Text, 0xFF, 0x15);
        image.U32(Text + 2, slot - (Text + 6));
        image.Code(Text + 6, 0xC3);
        image.Code(Text + 0x40, 0xC3);
        image.U32(slot, (uint)image.Va(Text + 0x40));
        image.U32(slot + 4, (uint)(image.Va(Text + 0x40) >> 32));
        var dump = SynthDump(image);
        using var symbols = new DumpSymbols(dump, null);
        var call = new Disassembler(dump, symbols).Forward(image.Va(Text), 1).Lines.Single();
        Assert.True(call.IsCall);
        Assert.Equal($"call qword ptr [synth+0x4010 (0x{image.Va(slot):x16})]", call.Instruction);
        Assert.Equal(image.Va(Text + 0x40), call.Target);
        Assert.Equal("synth+0x1040", call.TargetSymbol);
    }

    [Fact]
    public void X86_code_decodes_as_32_bit()
    {
        var image = new SynthImage(0x400000, pe64: false);
        // push ebp; mov ebp,esp; call +0x40; pop ebp; ret
        image.Code(Text, 0x55, 0x8B, 0xEC);
        uint after = image.CallRel32(Text + 3, Text + 0x40);
        image.Code(after, 0x5D, 0xC3);
        var stack = new SynthStack(0x10000, 0x100);
        var dump = _files.Open(SynthStackDump.Builder(image, stack, new X86Context { Eip = (uint)image.Va(Text), Esp = 0x10000 }.ToSection(), x86: true));
        using var symbols = new DumpSymbols(dump, null);
        var lines = new Disassembler(dump, symbols).Forward(image.Va(Text), 5).Lines;
        Assert.Equal(["push ebp", "mov ebp,esp", "call synth+0x1040 (0x00401040)", "pop ebp", "ret"], lines.Select(l => l.Instruction));
        Assert.All(lines, l => Assert.Equal(4, l.PointerSize));
    }

    // ================================================================== raw stack

    [Fact]
    public void Raw_stack_marks_return_addresses_and_values_that_only_look_like_code()
    {
        var image = new SynthImage(0x180000000);
        image.Code(Text, 0x48, 0x83, 0xEC, 0x28);
        uint ret = image.CallRel32(Text + 4, Text + 0x40);   // a real call site
        image.Code(ret, 0x90, 0x90, 0xC3);
        var stack = new SynthStack(0x10000, 0x40);
        stack.Put(0x10000, 0x1234);                 // a small integer
        stack.Put(0x10008, image.Va(ret));          // return address
        stack.Put(0x10010, image.Va(ret + 1));      // into code, not after a call
        stack.Put(0x10018, image.Va(Data + 8));     // into .data
        var dump = _files.Open(SynthStackDump.Builder(image, stack, SynthStackDump.Context(image.Va(Text), 0x10000, 0)));
        using var symbols = new DumpSymbols(dump, null);

        var slots = RawStack.Read(dump, symbols, SynthStackDump.ThreadId, 0x10000, 0x10040 + 0x10).ToArray();
        Assert.Equal(10, slots.Length);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 0x10000UL + 8 * (ulong)i), slots.Select(s => s.Address));
        Assert.Equal((0x1234UL, null, false, false), (slots[0].Value!.Value, slots[0].Symbol, slots[0].IsReturnAddress, slots[0].LooksLikeCode));
        Assert.Equal(("synth+0x1009", true, false, CallSiteVerdict.Call), (slots[1].Symbol, slots[1].IsReturnAddress, slots[1].LooksLikeCode, slots[1].CallSite));
        Assert.Equal(("synth+0x100a", false, true, CallSiteVerdict.NotCall), (slots[2].Symbol, slots[2].IsReturnAddress, slots[2].LooksLikeCode, slots[2].CallSite));
        Assert.Equal(("synth+0x4008", false, false), (slots[3].Symbol, slots[3].IsReturnAddress, slots[3].LooksLikeCode));
        // Past the captured stack: no value, no guesses.
        Assert.All(slots[8..], s => Assert.Null(s.Value));
        Assert.Equal(3, RawStack.Read(dump, symbols, SynthStackDump.ThreadId, 0x10000, 0x10040, maxSlots: 3).Count());
    }
}
