using System.Text;
using DumpShell.Symbols.Breakpad;
using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The Breakpad text symbol file parser, on symbol text written from the examples of Breakpad's
/// "symbol files" documentation (and its processor test module), and on malformed lines.
/// </summary>
public class BreakpadSymTests
{
    // The documentation's records: MODULE, INFO, FILE, FUNC (with and without "m"), line records, PUBLIC
    // (with and without "m"), STACK WIN (FrameData with a program string, FPO with a flag), STACK CFI INIT / STACK CFI.
    private const string Module1 = """
        MODULE windows x86 111111111111111111111111111111111 module1.pdb
        INFO CODE_ID FFFFFFFF module1.exe
        INFO GENERATOR dump_syms 1.0
        FILE 1 file1_1.cc
        FILE 2 file1_2.cc
        FILE 3 file1_3.cc
        FILE 4 /home/jimb/mc/in/browser/app dir/nsBrowserApp.cpp
        FUNC 1000 c 0 Function1_1
        1000 4 44 1
        1004 4 45 1
        1008 4 46 1
        FUNC 1100 8 4 Function1_2
        1100 4 65 2
        1104 4 66 2
        FUNC 1200 100 8 Function1_3
        FUNC 1300 100 c Function1_4
        FUNC 2000 0 0 Test_Zero_Size_Function_Is_Ignored
        2000 4 88 2
        PUBLIC m 2160 0 Public2_1
        PUBLIC 2800 0 PublicSymbol
        FUNC 3000 7000 42 LargeFunction
        3000 7000 4098359 3
        FUNC m c184 30 0 nsQueryInterfaceWithError::operator()(nsID const&, void**) const
        c184 7 59 4
        c18b 29 60 4
        STACK WIN 4 1000 c 1 0 0 0 0 0 1 $eip 4 + ^ = $esp $ebp 8 + = $ebp $ebp ^ =
        STACK WIN 4 1100 8 1 0 0 0 0 0 1 $eip 4 + ^ = $esp $ebp 8 + = $ebp $ebp ^ =
        STACK WIN 4 1100 100 1 0 0 0 0 0 1 $eip 4 + ^ = $esp $ebp 8 + = $ebp $ebp ^ =
        STACK WIN 4 1300 100 1 0 0 0 0 0 1 $eip 4 + ^ = $esp $ebp 8 + = $ebp $ebp ^ =
        STACK WIN 0 1000 c 1 0 4 8 10 0 0 1
        STACK WIN 0 1200 100 1 0 4 8 10 0 0 0
        STACK CFI INIT 3d40 af .cfa: $esp 4 + .ra: .cfa 4 - ^
        STACK CFI 3d41 .cfa: $esp 8 +
        STACK CFI 3d43 .cfa: $ebp 8 + $ebp: .cfa 8 - ^
        STACK CFI 3d54 $ebx: .cfa 20 - ^
        STACK CFI 3d5a $esi: .cfa 16 - ^
        STACK CFI 3d84 $edi: .cfa 12 - ^
        STACK CFI INIT 804c4b0 40 .cfa: $esp 4 + $eip: .cfa 4 - ^
        STACK CFI 804c4b1 .cfa: $esp 8 + $ebp: .cfa 8 - ^
        """;

    [Fact]
    public void Records_AreParsed()
    {
        var sym = SymbolFile.Parse(Module1);
        Assert.Equal(0, sym.ProblemCount);
        Assert.Equal(new BreakpadModule("windows", "x86", "111111111111111111111111111111111", "module1.pdb"), sym.Module);
        Assert.Equal("FFFFFFFF", sym.CodeId);
        Assert.Equal("module1.exe", sym.CodeFile);
        Assert.Equal([new BreakpadInfo("CODE_ID", "FFFFFFFF module1.exe"), new BreakpadInfo("GENERATOR", "dump_syms 1.0")], sym.Info);
        Assert.Equal(4, sym.Files.Count);
        Assert.Equal("/home/jimb/mc/in/browser/app dir/nsBrowserApp.cpp", sym.Files[4]);
        Assert.Equal(7, sym.Functions.Count);
        Assert.Equal(2, sym.Publics.Count);
        Assert.Equal(6, sym.StackWin.Count);
        Assert.Equal(2, sym.Cfi.Count);

        var f = sym.Functions[0];
        Assert.Equal((0x1000ul, 0xcul, 0ul, "Function1_1", false), (f.Address, f.Size, f.ParameterSize, f.Name, f.IsMultiple));
        Assert.Equal([new BreakpadLine(0x1000, 4, 44, 1), new BreakpadLine(0x1004, 4, 45, 1), new BreakpadLine(0x1008, 4, 46, 1)], f.Lines);

        var folded = sym.Functions[^1];
        Assert.True(folded.IsMultiple);
        Assert.Equal("nsQueryInterfaceWithError::operator()(nsID const&, void**) const", folded.Name);
        Assert.Equal(0xc184ul, folded.Address);

        Assert.Equal(new BreakpadPublic(0x2160, 0, "Public2_1", true), sym.Publics[0]);
        Assert.Equal(new BreakpadPublic(0x2800, 0, "PublicSymbol", false), sym.Publics[1]);
    }

    [Theory]
    [InlineData(0x1000ul, "Function1_1", 0x1000ul, 0xcul)]
    [InlineData(0x100bul, "Function1_1", 0x1000ul, 0xcul)]
    [InlineData(0x1107ul, "Function1_2", 0x1100ul, 0x8ul)]
    [InlineData(0x12fful, "Function1_3", 0x1200ul, 0x100ul)]
    [InlineData(0x3000ul, "LargeFunction", 0x3000ul, 0x7000ul)]
    [InlineData(0x9ffful, "LargeFunction", 0x3000ul, 0x7000ul)]
    [InlineData(0xc1a0ul, "nsQueryInterfaceWithError::operator()(nsID const&, void**) const", 0xc184ul, 0x30ul)]
    public void FindFunction_ReturnsTheCoveringFunc(ulong rva, string name, ulong start, ulong size)
    {
        var sym = SymbolFile.Parse(Module1);
        var found = sym.FindFunction(rva);
        Assert.NotNull(found);
        Assert.Equal((name, start, (ulong?)size, false), (found.Name, found.Address, found.Size, found.IsPublic));
        Assert.Same(sym.FindFunctionRecord(rva), sym.Functions.Single(x => x.Address == start));
    }

    [Fact]
    public void FindFunction_FallsBackToTheNearestPublic()
    {
        var sym = SymbolFile.Parse(Module1);

        // Between Function1_4's end (0x1400) and LargeFunction: the nearest PUBLIC below, sized to the next address mentioned.
        var p1 = sym.FindFunction(0x2170)!;
        Assert.Equal(("Public2_1", 0x2160ul, (ulong?)(0x2800 - 0x2160), true), (p1.Name, p1.Address, p1.Size, p1.IsPublic));
        var p2 = sym.FindFunction(0x2fff)!;
        Assert.Equal(("PublicSymbol", 0x2800ul, (ulong?)0x800), (p2.Name, p2.Address, p2.Size));
        Assert.Null(sym.FindFunctionRecord(0x2fff));

        // The zero-size FUNC covers nothing, and no PUBLIC is below 0x2000.
        Assert.Null(sym.FindFunction(0x2000));
        // Past Function1_4, below every PUBLIC: nothing.
        Assert.Null(sym.FindFunction(0x1404));
        Assert.Null(sym.FindFunction(0x0fff));
        // Past LargeFunction: the nearest PUBLIC (0x2800) is below that FUNC, so it does not cover this address.
        Assert.Null(sym.FindFunction(0xa000));
    }

    [Theory]
    [InlineData(0x1000ul, "file1_1.cc", 44L)]
    [InlineData(0x1005ul, "file1_1.cc", 45L)]
    [InlineData(0x100bul, "file1_1.cc", 46L)]
    [InlineData(0x1104ul, "file1_2.cc", 66L)]
    [InlineData(0x5000ul, "file1_3.cc", 4098359L)]
    [InlineData(0xc18aul, "/home/jimb/mc/in/browser/app dir/nsBrowserApp.cpp", 59L)]
    [InlineData(0xc18bul, "/home/jimb/mc/in/browser/app dir/nsBrowserApp.cpp", 60L)]
    public void FindLine_ReturnsFileAndLine(ulong rva, string file, long line)
    {
        var found = SymbolFile.Parse(Module1).FindLine(rva);
        Assert.NotNull(found);
        Assert.Equal((file, line), (found.File, found.Line));
    }

    [Fact]
    public void FindLine_NothingWithoutLineRecords()
    {
        var sym = SymbolFile.Parse(Module1);
        Assert.Null(sym.FindLine(0x1250));   // Function1_3 has no line records
        Assert.Null(sym.FindLine(0x2000));   // zero-size FUNC
        Assert.Null(sym.FindLine(0x2900));   // only a PUBLIC
        Assert.Null(sym.FindLine(0xc1b4));   // past the end of the folded function
    }

    [Fact]
    public void StackWin_FieldsAndLookup()
    {
        var sym = SymbolFile.Parse(Module1);
        var first = sym.StackWin[0];
        Assert.Equal(4u, first.Type);
        Assert.Equal((0x1000ul, 0xcul, 1ul, 0ul, 0ul, 0ul, 0ul, 0ul),
            (first.Rva, first.CodeSize, first.PrologueSize, first.EpilogueSize, first.ParameterSize, first.SavedRegisterSize, first.LocalSize, first.MaxStackSize));
        Assert.True(first.HasProgramString);
        Assert.Equal("$eip 4 + ^ = $esp $ebp 8 + = $ebp $ebp ^ =", first.ProgramString);

        var fpo = sym.StackWin[4];
        Assert.Equal(0u, fpo.Type);
        Assert.Equal((4ul, 8ul, 0x10ul), (fpo.ParameterSize, fpo.SavedRegisterSize, fpo.LocalSize));
        Assert.False(fpo.HasProgramString);
        Assert.Null(fpo.ProgramString);
        Assert.True(fpo.AllocatesBasePointer);
        Assert.False(sym.StackWin[5].AllocatesBasePointer);

        // FrameData is preferred over FPO; of two ranges the innermost wins.
        Assert.Equal(4u, sym.FindStackWin(0x1004)!.Type);
        Assert.Equal(8ul, sym.FindStackWin(0x1104)!.CodeSize);
        Assert.Equal(0x100ul, sym.FindStackWin(0x1150)!.CodeSize);
        Assert.Equal(0u, sym.FindStackWin(0x1250)!.Type);   // only the FPO record covers Function1_3
        Assert.Null(sym.FindStackWin(0x2000));
    }

    [Fact]
    public void StackCfi_RulesAreStoredAndComposedByAddress()
    {
        var sym = SymbolFile.Parse(Module1);
        var cfi = sym.Cfi[0];
        Assert.Equal((0x3d40ul, 0xaful), (cfi.Address, cfi.Size));
        Assert.Equal([new BreakpadCfiRule(".cfa", "$esp 4 +"), new BreakpadCfiRule(".ra", ".cfa 4 - ^")], cfi.InitialRules);
        Assert.Equal(5, cfi.Changes.Count);
        Assert.Equal(new BreakpadCfiRow(0x3d43, cfi.Changes[1].Rules), cfi.Changes[1]);
        Assert.Equal([new BreakpadCfiRule(".cfa", "$ebp 8 +"), new BreakpadCfiRule("$ebp", ".cfa 8 - ^")], cfi.Changes[1].Rules);

        var atStart = sym.FindCfiRules(0x3d40)!;
        Assert.Equal(2, atStart.Count);
        Assert.Equal("$esp 4 +", atStart[".cfa"]);

        var at42 = sym.FindCfiRules(0x3d42)!;
        Assert.Equal("$esp 8 +", at42[".cfa"]);
        Assert.False(at42.ContainsKey("$ebp"));

        var late = sym.FindCfiRules(0x3dee)!;
        Assert.Equal("$ebp 8 +", late[".cfa"]);
        Assert.Equal(".cfa 4 - ^", late[".ra"]);
        Assert.Equal(".cfa 8 - ^", late["$ebp"]);
        Assert.Equal(".cfa 20 - ^", late["$ebx"]);
        Assert.Equal(".cfa 16 - ^", late["$esi"]);
        Assert.Equal(".cfa 12 - ^", late["$edi"]);

        Assert.Null(sym.FindCfiRules(0x3def));   // the INIT range is [3d40, 3def)
        Assert.Null(sym.FindCfi(0x3d3f));

        var second = sym.FindCfiRules(0x804c4b5)!;
        Assert.Equal("$esp 8 +", second[".cfa"]);
        Assert.Equal(".cfa 4 - ^", second["$eip"]);
        Assert.Equal(".cfa 8 - ^", second["$ebp"]);
    }

    [Fact]
    public void Inline_RecordsGiveInlineFrames()
    {
        const string text = """
            MODULE Linux x86_64 D3096ED481217FD4C16B29CD9BC208BA0 firefox-bin
            FILE 1 a.cc
            FILE 2 b.h
            INLINE_ORIGIN 0 inlined_a()
            INLINE_ORIGIN 1 inlined_b(int)
            FUNC 1000 100 0 outer
            INLINE 0 10 1 0 1010 20
            INLINE 1 12 2 1 1014 8 1040 4
            1000 100 5 1
            """;
        var sym = SymbolFile.Parse(text);
        Assert.Equal(0, sym.ProblemCount);
        Assert.Equal("inlined_b(int)", sym.InlineOrigins[1]);
        var frames = sym.FindInlineFrames(0x1016);
        Assert.Equal(
            [new BreakpadInlineFrame("inlined_a()", 0, "a.cc", 10, 0), new BreakpadInlineFrame("inlined_b(int)", 1, "b.h", 12, 1)],
            frames);
        Assert.Single(sym.FindInlineFrames(0x1011));
        Assert.Single(sym.FindInlineFrames(0x1041));
        Assert.Empty(sym.FindInlineFrames(0x1080));
        Assert.Equal("outer", sym.FindFunction(0x1016)!.Name);
        Assert.Equal(2, sym.Functions[0].Inlines[1].Ranges.Count);
    }

    [Fact]
    public void MalformedLines_AreSkippedAndCounted()
    {
        string[] lines =
        [
            "MODULE Linux x86_64 D3096ED481217FD4C16B29CD9BC208BA0 firefox-bin", // 1 ok
            "FILE x notanumber.cc",                                              // 2 bad
            "FILE 1 a.cc",                                                       // 3 ok
            "1000 4 1 1",                                                        // 4 bad: line before FUNC
            "FUNC zz 10 0 bad",                                                  // 5 bad hex
            "FUNC 1000 10 0 good",                                               // 6 ok
            "1000 4 1 1",                                                        // 7 ok
            "1004 4 nope 1",                                                     // 8 bad
            "1008 4 3",                                                          // 9 bad: too few fields
            "PUBLIC 2000",                                                       // 10 bad
            "BOGUS record",                                                      // 11 bad: unknown
            "STACK CFI 1234 .cfa: $esp 4 +",                                     // 12 bad: no INIT yet
            "STACK CFI INIT 3000 10 $esp 4 +",                                   // 13 bad: expression before register
            "STACK CFI INIT 3000 10 .cfa: $esp 4 + .ra: .cfa 4 - ^",             // 14 ok
            "STACK CFI 2000 .cfa: $esp 8 +",                                     // 15 bad: outside INIT
            "STACK CFI 3004 .cfa:",                                              // 16 bad: empty expression
            "STACK WIN 4 1000 c 1",                                              // 17 bad: too few
            "STACK WIN 0 1000 c 1 0 0 0 0 0 0 zz",                               // 18 bad flag
            "STACK FOO 1",                                                       // 19 bad: unknown STACK
            "INLINE_ORIGIN x name",                                              // 20 bad
            "INLINE 0 1 1",                                                      // 21 bad: no range
            "MODULE windows x86 1 second.pdb",                                   // 22 bad: second MODULE
            "",                                                                  // 23 blank: ignored
            "PUBLIC 3000 0 pub",                                                 // 24 ok
            "1010 4 -5 1",                                                       // 25 bad: negative line
            "func 1000 10 0 lowercase",                                          // 26 bad: unknown record
            "FUNC 4000 10 0",                                                    // 27 ok: empty name
        ];
        var sym = SymbolFile.Parse(string.Join("\r\n", lines));
        int[] expectedBad = [2, 4, 5, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 25, 26];
        Assert.Equal(expectedBad, sym.Problems.Select(p => (int)p.LineNumber));
        Assert.Equal(expectedBad.Length, sym.ProblemCount);
        Assert.All(sym.Problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Message)));

        // What was good is there.
        Assert.Equal("firefox-bin", sym.Module!.Name);
        Assert.Equal("a.cc", Assert.Single(sym.Files).Value);
        Assert.Equal(["good", ""], sym.Functions.Select(f => f.Name));
        Assert.Single(sym.Functions[0].Lines);
        Assert.Equal("good", sym.FindFunction(0x1008)!.Name);
        Assert.Equal(("a.cc", 1L), (sym.FindLine(0x1002)!.File, sym.FindLine(0x1002)!.Line));
        Assert.Equal("pub", Assert.Single(sym.Publics).Name);
        Assert.Equal("$esp 4 +", sym.FindCfiRules(0x3008)![".cfa"]);
        Assert.Empty(sym.StackWin);
        Assert.Equal(27, sym.LineCount);
    }

    [Fact]
    public void ManyProblems_AreCountedButOnlyTheFirstKept()
    {
        var text = new StringBuilder("MODULE windows x86_64 ABC app.pdb\n");
        for (int i = 0; i < 250; i++)
            text.Append("garbage ").Append(i).Append('\n');
        var sym = SymbolFile.Parse(text.ToString());
        Assert.Equal(250, sym.ProblemCount);
        Assert.Equal(SymbolFile.MaxProblemsKept, sym.Problems.Count);
        Assert.Equal(2, sym.Problems[0].LineNumber);
    }

    [Fact]
    public void EmptyAndOddInput_DoNotThrow()
    {
        var empty = SymbolFile.Parse("");
        Assert.Null(empty.Module);
        Assert.Null(empty.FindFunction(0));
        Assert.Null(empty.FindLine(0));
        Assert.Null(empty.FindCfiRules(0));
        Assert.Null(empty.FindStackWin(0));
        Assert.Empty(empty.FindInlineFrames(0));

        var odd = SymbolFile.Parse("FUNC ffffffffffffff00 ffffffff 0 wraps\nffffffffffffff00 ffffffff 1 1\nFUNC 10000000000000000 1 0 toolong\n\0\0\0\n\uFEFFMODULE x");
        Assert.Equal("wraps", odd.FindFunction(ulong.MaxValue - 1)!.Name);
        Assert.Equal(3, odd.ProblemCount);
    }

    [Fact]
    public void Load_AndParseStream_ReadAFile()
    {
        var dir = Directory.CreateTempSubdirectory("dumpshell-breakpad-");
        try
        {
            string path = Path.Combine(dir.FullName, "module1.sym");
            File.WriteAllText(path, Module1.Replace("\n", "\r\n"), new UTF8Encoding(encoderShouldEmitUTF8Identifier: true));
            var loaded = SymbolFile.Load(path);
            Assert.Equal(0, loaded.ProblemCount);
            Assert.Equal("module1.pdb", loaded.Module!.Name);
            Assert.Equal("Function1_2", loaded.FindFunction(0x1101)!.Name);

            using var stream = File.OpenRead(path);
            var parsed = SymbolFile.Parse(stream);
            Assert.Equal(loaded.Functions.Count, parsed.Functions.Count);
            Assert.Equal(("file1_3.cc", 4098359L), (parsed.FindLine(0x3001)!.File, parsed.FindLine(0x3001)!.Line));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
