using System.Text.Json;
using System.Text.RegularExpressions;
using DumpShell.Symbols.Pdb;
using Xunit;
using Xunit.Abstractions;
using static DumpShell.Tests.Engine.PdbBuilder;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The native PDB reader: against the PDBs lld wrote for the Wine corpus's "_pdb" scenarios (checked against
/// their truth files and the scenario sources), against synthetic x86 PDBs built by <see cref="PdbBuilder"/>
/// (FPO, frame data, OMAP, small blocks, big directories), and against hostile files (truncated, corrupted,
/// impossible superblocks and directories).
/// </summary>
public class PdbTests(ITestOutputHelper output)
{
    private const long AllocationLimit = 50L << 20;
    private static readonly TimeSpan HostileTimeout = TimeSpan.FromSeconds(20);

    // ---------------------------------------------------------------- corpus

    /// <summary>Dump names whose truth file describes a PDB ("*_pdb_x64").</summary>
    public static TheoryData<string> PdbDumps => new(PdbDumpNames());

    private static string[] PdbDumpNames() =>
        Directory.EnumerateFiles(TestData.Wine, "*_pdb_x64.truth.json")
            .Select(p => Path.GetFileName(p)[..^".truth.json".Length])
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();

    private sealed record Scenario(string Dump, string ScenarioName, string PdbPath, JsonElement Symbols, ScenarioFunction[] Functions);

    private sealed record ScenarioFunction(string Name, uint Rva, uint Size, uint RvaEnd);

    private static Scenario Load(string dump)
    {
        var truth = TestData.Truth(dump);
        var symbols = truth.GetProperty("symbols");
        string pdbPath = Path.Combine(TestData.Wine, symbols.Str("symstore_pdb_path").Replace('/', Path.DirectorySeparatorChar));
        var functions = symbols.Items("functions")
            .Select(f => new ScenarioFunction(f.Str("name"), f.U32("rva"), f.U32("size"), f.U32("rva_end")))
            .ToArray();
        return new Scenario(dump, truth.Str("scenario"), pdbPath, symbols, functions);
    }

    [Fact]
    public void Corpus_has_pdb_scenarios()
    {
        Assert.True(PdbDumpNames().Length >= 8, $"expected the 8 *_pdb_x64 truth files, found {PdbDumpNames().Length}");
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void Guid_and_age_match_truth_and_symbol_store_path(string dump)
    {
        var s = Load(dump);
        using var pdb = PdbFile.Open(s.PdbPath);
        var guid = Guid.Parse(s.Symbols.Str("pdb_guid"));
        uint age = (uint)s.Symbols.Int("pdb_age");
        Assert.Equal(guid, pdb.Guid);
        Assert.Equal(age, pdb.Age);
        Assert.Equal(age, pdb.InfoAge);
        Assert.True(pdb.Matches(guid, age));
        Assert.False(pdb.Matches(guid, age + 1));
        // symbols/<name>.pdb/<GUID><AGE>/<name>.pdb
        Assert.Equal(Path.GetFileName(Path.GetDirectoryName(s.PdbPath)), pdb.SymbolStoreKey);
        Assert.Equal(0x8664, pdb.Machine);
        Assert.Equal(PdbInfo.VersionVC70, pdb.Info.Version);
        Assert.True(pdb.Info.GetNamedStream("/names") > 0);
        Assert.Contains(pdb.Sections, x => x.Name == ".text");
        Assert.Empty(pdb.Problems);
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void FindFunction_gives_scenario_functions_from_module_symbols(string dump)
    {
        var s = Load(dump);
        using var pdb = PdbFile.Open(s.PdbPath);
        Assert.NotEmpty(s.Functions);
        foreach (var f in s.Functions)
        {
            Assert.Equal(f.Rva + f.Size, f.RvaEnd);
            foreach (uint probe in new[] { f.Rva, f.Rva + f.Size / 2, f.RvaEnd - 1 })
            {
                var found = pdb.FindFunction(probe);
                Assert.True(found is not null, $"{dump}: nothing at 0x{probe:X} ({f.Name})");
                Assert.Equal(f.Name, found!.Name);
                Assert.Equal(f.Rva, found.Rva);
                Assert.Equal(f.Size, found.Size);
                Assert.False(found.IsPublic);
                Assert.True(found.ModuleIndex >= 0);
                Assert.NotNull(found.FrameProc);
            }
            var after = pdb.FindFunction(f.RvaEnd);
            Assert.True(after is null || after.Name != f.Name, $"{dump}: 0x{f.RvaEnd:X} is past {f.Name} but gave {after?.Name}");
            Assert.True(f.Rva == 0 || pdb.FindFunction(f.Rva - 1)?.Name != f.Name);
        }
        Assert.Empty(pdb.Problems);
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void Functions_and_publics_list_scenario_functions(string dump)
    {
        var s = Load(dump);
        using var pdb = PdbFile.Open(s.PdbPath);
        var functions = pdb.Functions;
        var publics = pdb.Publics;
        output.WriteLine($"{dump}: {pdb.Modules.Count} modules, {functions.Count} functions, {publics.Count} publics");
        Assert.True(functions.Zip(functions.Skip(1)).All(p => p.First.Rva <= p.Second.Rva), "functions not sorted by RVA");
        Assert.True(publics.Zip(publics.Skip(1)).All(p => p.First.Rva <= p.Second.Rva), "publics not sorted by RVA");
        foreach (var f in s.Functions)
        {
            Assert.Contains(functions, x => x.Name == f.Name && x.Rva == f.Rva && x.Size == f.Size);
            var pub = Assert.Single(publics, p => p.Name == f.Name);
            Assert.Equal(f.Rva, pub.Rva);
            Assert.Equal((ushort)1, pub.Section);
            Assert.True(pub.IsFunction);
            Assert.Equal(pub, pdb.FindPublic(f.Rva + 1));
        }
        // Every public of .text that has a private procedure starting at it names the same function.
        var byRva = functions.GroupBy(f => f.Rva).ToDictionary(g => g.Key, g => g.Select(f => f.Name).ToHashSet());
        Assert.Contains(publics, p => byRva.TryGetValue(p.Rva, out var names) && names.Contains(p.Name));
        Assert.Empty(pdb.Problems);
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void FindLine_gives_the_scenario_source_line_of_each_function(string dump)
    {
        var s = Load(dump);
        using var pdb = PdbFile.Open(s.PdbPath);
        string sourceName = s.ScenarioName + ".c";
        string sourcePath = Path.Combine(TestData.SharedDumps, "..", "dumpfactory", "scenarios", sourceName);
        string[] source = File.ReadAllLines(sourcePath);
        foreach (var f in s.Functions)
        {
            var line = pdb.FindLine(f.Rva);
            Assert.True(line is not null, $"{dump}: no line at {f.Name} 0x{f.Rva:X}");
            output.WriteLine($"{f.Name}: {line!.File}:{line.Line} @0x{line.Rva:X}+{line.Length}");
            Assert.EndsWith(sourceName, line.File.Replace('\\', '/'));
            Assert.True(line.Line > 0);
            Assert.Equal(f.Rva, line.Rva);
            Assert.True(line.Length > 0);
            int definition = DefinitionLine(source, f.Name);
            Assert.True(definition > 0, $"{f.Name} not found in {sourceName}");
            Assert.InRange((int)line.Line, definition - 2, definition + 2);

            var last = pdb.FindLine(f.RvaEnd - 1);
            Assert.NotNull(last);
            Assert.Equal(line.File, last!.File);
            Assert.True(last.Line >= line.Line, $"{f.Name}: last line {last.Line} before first {line.Line}");
            Assert.True(last.Rva + last.Length <= f.RvaEnd, $"{f.Name}: last line runs past the function");
        }
        Assert.Empty(pdb.Problems);
    }

    /// <summary>The 1-based line where a function's definition starts: "type name(" at line start, not a prototype.</summary>
    private static int DefinitionLine(string[] source, string name)
    {
        var definition = new Regex(@"^[A-Za-z_][\w\s\*]*\b" + Regex.Escape(name) + @"\s*\(");
        for (int i = 0; i < source.Length; i++)
            if (definition.IsMatch(source[i]) && !source[i].TrimEnd().EndsWith(';'))
                return i + 1;
        return -1;
    }

    [Theory, MemberData(nameof(PdbDumps))]
    public void Modules_streams_and_section_contributions_are_consistent(string dump)
    {
        var s = Load(dump);
        using var pdb = PdbFile.Open(s.PdbPath);
        var dbi = pdb.Dbi!;
        Assert.Equal(pdb.Age, dbi.Age);
        Assert.True(pdb.Msf.HasStream(dbi.SymbolRecordStream));
        Assert.True(pdb.Msf.HasStream(dbi.PublicSymbolStream));
        Assert.Equal(4096, pdb.Msf.BlockSize);
        Assert.Equal(pdb.Msf.FileLength, (long)pdb.Msf.BlockCount * pdb.Msf.BlockSize);
        Assert.Equal(-1, dbi.DebugStreams.Fpo);
        Assert.Empty(pdb.FpoRecords);
        Assert.Empty(pdb.FrameDataRecords);
        Assert.Null(pdb.FrameDataAt(s.Functions[0].Rva));
        Assert.NotEmpty(dbi.SectionContributions);

        var module = pdb.Modules.Single(m => m.ModuleName.EndsWith(s.ScenarioName + "_pdb.o", StringComparison.Ordinal));
        Assert.True(module.SymbolStream > 0 && module.C13ByteSize > 0);
        Assert.Contains(pdb.GetModuleSourceFiles(module.Index), f => f.EndsWith(s.ScenarioName + ".c", StringComparison.Ordinal));
        foreach (var f in s.Functions)
        {
            Assert.Equal(module.Index, pdb.ModuleForRva(f.Rva));
            Assert.Contains(pdb.GetModuleFunctions(module.Index), x => x.Name == f.Name);
        }
    }

    [Fact]
    public void Open_reads_only_the_streams_a_lookup_needs()
    {
        var s = Load(PdbDumpNames()[0]);
        byte[] bytes = File.ReadAllBytes(s.PdbPath);
        // Break every module stream except the scenario's: a lookup in the scenario module still works, and
        // the damage shows up only when all functions are enumerated.
        using var reference = PdbFile.FromMemory(bytes);
        int scenarioModule = reference.ModuleForRva(s.Functions[0].Rva);
        var (_, _, blocks, _) = ReadDirectory(bytes);
        var copy = (byte[])bytes.Clone();
        int broken = 0;
        foreach (var m in reference.Modules.Where(m => m.Index != scenarioModule && m.SymbolStream > 0))
        {
            // A symbol record length of 0xFFFF at the first record runs past any module stream.
            PutU16(copy, (long)blocks[m.SymbolStream][0] * 4096 + 4, 0xFFFF);
            broken++;
        }
        Assert.True(broken > 0);
        using var pdb = PdbFile.FromMemory(copy);
        Assert.Equal(s.Functions[0].Name, pdb.FindFunction(s.Functions[0].Rva)?.Name);
        Assert.Empty(pdb.Problems);
        _ = pdb.Functions;
        Assert.Equal(broken, pdb.Problems.Count(p => p.Contains("cut short", StringComparison.Ordinal)));
    }

    // ---------------------------------------------------------------- synthetic x86 PDBs

    [Theory]
    [InlineData(4096)]
    [InlineData(512)]
    [InlineData(65536)]
    public void Synthetic_pdb_gives_functions_lines_publics_and_frame_data(int blockSize)
    {
        using var pdb = PdbFile.FromMemory(BuildSynthetic(blockSize));
        Assert.Equal(blockSize, pdb.Msf.BlockSize);
        Assert.Empty(pdb.Problems);
        Assert.Equal(SyntheticGuid, pdb.Guid);
        Assert.Equal(SyntheticDbiAge, pdb.Age);            // the DBI age is the one that is matched
        Assert.Equal(SyntheticInfoAge, pdb.InfoAge);
        Assert.True(pdb.Matches(SyntheticGuid, SyntheticDbiAge));
        Assert.False(pdb.Matches(SyntheticGuid, SyntheticInfoAge));
        Assert.Equal("112233445566778899AABBCCDDEEFF007", pdb.SymbolStoreKey);
        Assert.Equal(0x14C, pdb.Machine);
        Assert.Equal(Streams.Names, pdb.Info.GetNamedStream("/names"));
        Assert.Equal(Streams.LinkInfo, pdb.Info.GetNamedStream("/LinkInfo"));
        Assert.Contains(PdbInfo.FeatureVC140, pdb.Info.Features);
        Assert.Equal(2, pdb.Dbi!.SectionMap.Count);
        Assert.Equal(2, pdb.Dbi.SectionContributions.Count);
        Assert.Equal([SourceFile], pdb.GetModuleSourceFiles(0));

        var module = Assert.Single(pdb.Modules);
        Assert.Equal(@"c:\obj\synth.obj", module.ModuleName);
        Assert.Equal(Streams.Module, module.SymbolStream);
        Assert.Equal((uint?)0x1010, pdb.ToRva(1, 0x10));
        Assert.Null(pdb.ToRva(0, 0x10));
        Assert.Null(pdb.ToRva(3, 0x10));

        var alpha = pdb.FindFunction(0x1010);
        Assert.NotNull(alpha);
        Assert.Equal(("alpha", 0x1010u, 0x20u, true, false), (alpha!.Name, alpha.Rva, alpha.Size, alpha.IsGlobal, alpha.IsPublic));
        Assert.NotNull(alpha.FrameProc);
        Assert.Equal(0x28u, alpha.FrameProc!.FrameSize);
        Assert.Equal(8u, alpha.FrameProc.SavedRegistersSize);
        Assert.Equal(2, alpha.FrameProc.LocalBasePointer);
        Assert.Equal(2, alpha.FrameProc.ParamBasePointer);
        Assert.Equal("alpha", pdb.FindFunction(0x102F)?.Name);
        Assert.Null(pdb.FindFunction(0x1030));               // padding after alpha: alpha's public does not cover it
        var beta = pdb.FindFunction(0x104F);
        Assert.Equal(("beta", false, (PdbFrameProc?)null), (beta?.Name, beta?.IsGlobal, beta?.FrameProc));
        var gamma = pdb.FindFunction(0x1234);                // only a public: size up to the end of .text
        Assert.Equal(("gamma", 0x1080u, 0xF80u, true), (gamma?.Name, gamma?.Rva, gamma?.Size, gamma?.IsPublic));
        Assert.Null(pdb.FindFunction(0x2000 + 0x100));      // past .data
        Assert.Null(pdb.FindFunction(0x0FFF));
        Assert.Equal(["alpha", "beta"], pdb.Functions.Select(f => f.Name));
        Assert.Equal(["alpha", "gamma", "g_data"], pdb.Publics.Select(p => p.Name));
        Assert.Equal(0x2008u, pdb.Publics[2].Rva);
        Assert.Equal(PdbPublicFlags.None, pdb.Publics[2].Flags);

        Assert.Equal((SourceFile, 100u, 0x1010u, 8u), LineOf(pdb, 0x1010));
        Assert.Equal((SourceFile, 101u, 0x1018u, 0x10u), LineOf(pdb, 0x1018));
        Assert.Equal((SourceFile, 101u, 0x1018u, 0x10u), LineOf(pdb, 0x102F)); // hidden line at +0x18 falls back
        Assert.Equal((SourceFile, 200u, 0x1040u, 4u), LineOf(pdb, 0x1041));
        Assert.Equal((SourceFile, 201u, 0x1044u, 0xCu), LineOf(pdb, 0x104F));
        Assert.Null(pdb.FindLine(0x1030));
        Assert.Null(pdb.FindLine(0x1050));

        Assert.Equal(2, pdb.FpoRecords.Count);
        var fpo = pdb.FpoAt(0x1011);
        Assert.Equal(new PdbFpoData(0x1010, 0x20, 2, 1, 3, 2, false, true, PdbFpoFrameType.Fpo), fpo);
        Assert.Equal(PdbFpoFrameType.NonFpo, pdb.FpoAt(0x104F)?.FrameType);
        Assert.Null(pdb.FpoAt(0x1030));

        Assert.Equal(2, pdb.FrameDataRecords.Count);
        var outer = pdb.FrameDataAt(0x1012);
        Assert.Equal((0x1010u, 0x20u, OuterProgram, PdbFrameDataFlags.IsFunctionStart), (outer?.Rva, outer?.CodeSize, outer?.Program, outer?.Flags));
        Assert.Equal((ushort)3, outer!.PrologSize);
        var inner = pdb.FrameDataAt(0x101F);
        Assert.Equal((0x1018u, InnerProgram, PdbFrameDataFlags.HasSeh, 16u), (inner?.Rva, inner?.Program, inner?.Flags, inner?.MaxStackSize));
        Assert.Equal(outer, pdb.FrameDataAt(0x1020));
        Assert.Null(pdb.FrameDataAt(0x1030));
        Assert.Empty(pdb.Problems);
    }

    private static (string, uint, uint, uint)? LineOf(PdbFile pdb, uint rva) =>
        pdb.FindLine(rva) is { } l ? (l.File, l.Line, l.Rva, l.Length) : null;

    [Theory]
    [InlineData(PublicsLayout.HashRecordsOnly)]
    [InlineData(PublicsLayout.NoPublicStream)]
    public void Publics_are_found_without_an_address_map(PublicsLayout layout)
    {
        using var pdb = PdbFile.FromMemory(BuildSynthetic(publics: layout));
        Assert.Equal(["alpha", "gamma", "g_data"], pdb.Publics.Select(p => p.Name));
        Assert.Equal("gamma", pdb.FindFunction(0x1100)?.Name);
        Assert.Empty(pdb.Problems);
    }

    [Fact]
    public void Omap_maps_symbols_lines_and_frame_data_to_image_addresses()
    {
        using var pdb = PdbFile.FromMemory(BuildSynthetic(omap: true));
        Assert.True(pdb.HasOmap);
        Assert.Equal((uint?)0x5010, pdb.ToRva(1, 0x10));
        Assert.Equal((uint?)0x6008, pdb.ToRva(2, 0x8));
        Assert.Null(pdb.ToRva(2, 0x100));                    // mapped to 0 = no image address
        Assert.Equal(("alpha", 0x5010u), (pdb.FindFunction(0x5015)?.Name, pdb.FindFunction(0x5015)?.Rva));
        Assert.Equal("gamma", pdb.FindFunction(0x5090)?.Name);
        Assert.Null(pdb.FindFunction(0x1015));
        Assert.Equal((SourceFile, 101u, 0x5018u, 0x10u), LineOf(pdb, 0x5020));
        Assert.Equal(0x1018u, pdb.FrameDataAt(0x501A)?.Rva); // frame data keeps the PDB's own addresses
        Assert.Equal(0x1040u, pdb.FpoAt(0x5041)?.Rva);
        Assert.Empty(pdb.Problems);
    }

    [Fact]
    public void Big_directory_spanning_several_block_map_blocks_is_read()
    {
        // 512-byte blocks hold 128 block numbers; 9 MB of padding stream needs > 18000 blocks, so the directory
        // needs more than one block-map block (listed one after the other in the superblock).
        byte[] file = BuildSynthetic(blockSize: 512, paddingBytes: 9 << 20);
        Assert.True(U32(file, 44) > 128 * 512, "directory should need several block-map blocks");
        using var pdb = PdbFile.FromMemory(file);
        Assert.Equal((uint)(9 << 20), pdb.Msf.GetStreamSize(Streams.Padding));
        Assert.Equal("alpha", pdb.FindFunction(0x1010)?.Name);
        byte[] padding = pdb.Msf.ReadStream(Streams.Padding);
        Assert.Equal(9 << 20, padding.Length);
        Span<byte> middle = stackalloc byte[1000];
        Assert.Equal(1000, pdb.Msf.ReadStream(Streams.Padding, (9 << 20) - 1000, middle));
        Assert.Equal(0, pdb.Msf.ReadStream(Streams.Padding, 9 << 20, middle));
        Assert.Empty(pdb.Problems);
    }

    [Fact]
    public void Msf_reads_streams_across_blocks_and_reports_nil_streams()
    {
        var random = new Random(7);
        var a = new byte[1300];
        random.NextBytes(a);
        var b = new byte[512];
        random.NextBytes(b);
        using var msf = MsfFile.FromMemory(WriteMsf([[], a, null, b], 512));
        Assert.Equal(4, msf.StreamCount);
        Assert.Equal(a, msf.ReadStream(1));
        Assert.Equal(b, msf.ReadStream(3));
        Assert.False(msf.HasStream(2));
        Assert.Equal(0u, msf.GetStreamSize(2));
        Assert.Empty(msf.ReadStream(2));
        Assert.Empty(msf.ReadStream(4));
        Assert.Empty(msf.ReadStream(-1));
        Assert.Equal(3, msf.GetStreamBlocks(1).Length);
        var part = new byte[600];
        Assert.Equal(600, msf.ReadStream(1, 500, part));
        Assert.Equal(a.AsSpan(500, 600).ToArray(), part);
        Assert.Equal(300, msf.ReadStream(1, 1000, part));
    }

    // ---------------------------------------------------------------- hostile input

    private static byte[] CorpusPdb() => File.ReadAllBytes(Load(PdbDumpNames()[0]).PdbPath);

    /// <summary>
    /// Opens and exercises the PDB on a worker thread: it must either throw PdbFormatException or give results
    /// (possibly empty) — no other exception, within the timeout, allocating less than 50 MB.
    /// </summary>
    /// <returns>Whether the PDB opened, and the bytes allocated.</returns>
    private (bool Opened, long Allocated) AssertHostile(byte[] bytes, string label, bool expectFormatError = false)
    {
        Exception? unexpected = null;
        PdbFormatException? formatError = null;
        long allocated = 0;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                using var pdb = PdbFile.FromMemory(bytes);
                _ = (pdb.Guid, pdb.Age, pdb.SymbolStoreKey, pdb.Sections.Count);
                foreach (uint rva in new uint[] { 0, 0x1000, 0x1010, 0x1018, 0x1045, 0x1100, 0x1510, 0x1530, 0x1540, 0x16D0, 0x2008, 0xFFFF_FFFF })
                {
                    _ = pdb.FindFunction(rva);
                    _ = pdb.FindLine(rva);
                    _ = pdb.FpoAt(rva);
                    _ = pdb.FrameDataAt(rva);
                    _ = pdb.FindPublic(rva);
                }
                _ = pdb.Publics.Count;
                _ = pdb.Functions.Count;
                for (int m = 0; m < pdb.Modules.Count; m++)
                    _ = pdb.GetModuleSourceFiles(m).Count;
                _ = pdb.GetName(1);
                _ = pdb.Problems.Count;
                for (int s = 0; s < Math.Min(pdb.Msf.StreamCount, 64); s++)
                    try { _ = pdb.Msf.ReadStream(s); } catch (PdbFormatException) { }
            }
            catch (PdbFormatException e)
            {
                formatError = e;
            }
            catch (Exception e)
            {
                unexpected = e;
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        Assert.True(task.Wait(HostileTimeout), $"{label}: did not finish within {HostileTimeout.TotalSeconds} s");
        Assert.True(unexpected is null, $"{label}: {unexpected}");
        Assert.True(allocated < AllocationLimit, $"{label}: allocated {allocated:N0} bytes");
        if (expectFormatError)
        {
            Assert.True(formatError is not null, $"{label}: expected a PdbFormatException");
            output.WriteLine($"{label}: {formatError!.Message}");
        }
        return (formatError is null, allocated);
    }

    [Fact]
    public void Truncated_pdb_at_every_block_boundary_gives_format_error_or_results()
    {
        byte[] full = CorpusPdb();
        int formatErrors = 0;
        for (int length = 0; length < full.Length; length += 4096)
        {
            foreach (int cut in new[] { length, length + 1, length + 2048 })
            {
                if (cut >= full.Length) continue;
                AssertHostile(full[..cut], $"truncated to {cut}");
                try { using var _ = PdbFile.FromMemory(full.AsMemory(0, cut)); }
                catch (PdbFormatException) { formatErrors++; }
            }
        }
        Assert.True(formatErrors > 0);
        using var whole = PdbFile.FromMemory(full);
        Assert.Empty(whole.Problems);
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    public void Truncated_pdb_with_directory_first_loses_streams_not_the_file(int blockSize)
    {
        // Directory right after the superblock: cutting the end loses stream blocks, which the lazily read
        // parts report as problems (or the eager parts as PdbFormatException).
        byte[] full = BuildSynthetic(blockSize, directoryFirst: true);
        using (var whole = PdbFile.FromMemory(full))
        {
            Assert.Equal("alpha", whole.FindFunction(0x1010)?.Name);
            Assert.Empty(whole.Problems);
        }
        int opened = 0, withProblems = 0;
        for (int cut = 0; cut < full.Length; cut += blockSize)
        {
            byte[] part = full[..cut];
            AssertHostile(part, $"directory-first truncated to {cut}");
            try
            {
                using var pdb = PdbFile.FromMemory(part);
                opened++;
                _ = pdb.FindFunction(0x1010);
                _ = pdb.FindLine(0x1010);
                _ = pdb.FrameDataAt(0x1010);
                _ = pdb.FpoAt(0x1010);
                if (pdb.Problems.Count > 0) withProblems++;
            }
            catch (PdbFormatException)
            {
            }
        }
        output.WriteLine($"{full.Length / blockSize} cuts: {opened} opened, {withProblems} with problems");
        Assert.True(withProblems > 0, "no cut opened with missing streams");
    }

    [Fact]
    public void Truncated_pdb_files_opened_from_disk_give_format_errors()
    {
        byte[] full = CorpusPdb();
        string dir = Path.Combine(Path.GetTempPath(), "dumpshell-pdbtests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (int cut in new[] { 0, 10, 56, 4096, full.Length / 2, full.Length - 4096 })
            {
                string path = Path.Combine(dir, $"cut{cut}.pdb");
                File.WriteAllBytes(path, full[..cut]);
                try
                {
                    using var pdb = PdbFile.Open(path);
                    _ = pdb.Functions.Count;
                    _ = pdb.Publics.Count;
                    _ = pdb.FindLine(0x1510);
                }
                catch (PdbFormatException e)
                {
                    output.WriteLine($"{cut}: {e.Message}");
                    Assert.Equal(path, e.Path);
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Wrong_magic_is_a_format_error()
    {
        byte[] bytes = CorpusPdb();
        bytes[0] ^= 0x20;
        AssertHostile(bytes, "wrong magic", expectFormatError: true);
        byte[] small = new byte[4096];
        "Microsoft C/C++ program database 2.00\r\n\u001aJG\0\0"u8.CopyTo(small);
        var e = Assert.Throws<PdbFormatException>(() => PdbFile.FromMemory(small));
        Assert.Contains("2.00", e.Message);
        Assert.Throws<PdbFormatException>(() => PdbFile.FromMemory(Array.Empty<byte>()));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(3u)]
    [InlineData(256u)]
    [InlineData(4095u)]
    [InlineData(131072u)]
    [InlineData(1u << 30)]
    [InlineData(0xFFFF_FFFFu)]
    public void Invalid_block_size_is_a_format_error(uint blockSize)
    {
        byte[] bytes = CorpusPdb();
        PutU32(bytes, 32, blockSize);
        AssertHostile(bytes, $"block size {blockSize}", expectFormatError: true);
    }

    [Fact]
    public void Other_block_sizes_that_do_not_match_the_layout_give_format_error_or_results()
    {
        foreach (uint blockSize in new uint[] { 512, 1024, 2048, 8192, 65536 })
        {
            byte[] bytes = CorpusPdb();
            PutU32(bytes, 32, blockSize);
            AssertHostile(bytes, $"block size {blockSize}");
        }
    }

    [Fact]
    public void Directory_pointing_past_the_end_is_a_format_error()
    {
        byte[] original = CorpusPdb();
        uint blocks = U32(original, 40);

        byte[] mapPastEnd = (byte[])original.Clone();
        PutU32(mapPastEnd, 52, blocks + 10);                 // block-map block past the file
        AssertHostile(mapPastEnd, "block map past EOF", expectFormatError: true);

        byte[] mapHuge = (byte[])original.Clone();
        PutU32(mapHuge, 52, 0xFFFF_FFFF);
        AssertHostile(mapHuge, "block map at block 0xFFFFFFFF", expectFormatError: true);

        byte[] dirBlockPastEnd = (byte[])original.Clone();
        uint mapBlock = U32(original, 52);
        PutU32(dirBlockPastEnd, mapBlock * 4096, blocks + 1); // first directory block past the file
        AssertHostile(dirBlockPastEnd, "directory block past EOF", expectFormatError: true);

        byte[] dirTooBig = (byte[])original.Clone();
        PutU32(dirTooBig, 44, 0x7FFF_FFF0);
        AssertHostile(dirTooBig, "directory size 0x7FFFFFF0", expectFormatError: true);

        byte[] dirManyBlocks = (byte[])original.Clone();
        PutU32(dirManyBlocks, 44, (uint)original.Length);     // fits the file but needs many directory blocks
        AssertHostile(dirManyBlocks, "directory size = file size");

        byte[] dirZero = (byte[])original.Clone();
        PutU32(dirZero, 44, 0);
        AssertHostile(dirZero, "directory size 0", expectFormatError: true);

        byte[] numBlocksSmall = (byte[])original.Clone();
        PutU32(numBlocksSmall, 40, 3);                       // every stream block is "past NumBlocks"
        AssertHostile(numBlocksSmall, "NumBlocks 3", expectFormatError: true);

        byte[] streamCount = (byte[])original.Clone();
        var (_, _, _, directoryAt) = ReadDirectory(original);
        PutU32(streamCount, directoryAt, 0xFFFF_FFF0);
        AssertHostile(streamCount, "stream count 0xFFFFFFF0", expectFormatError: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(14)]
    public void Huge_stream_size_is_a_format_error(int stream)
    {
        byte[] bytes = CorpusPdb();
        var (_, sizes, _, directoryAt) = ReadDirectory(bytes);
        Assert.True(stream < sizes.Length);
        foreach (uint size in new uint[] { 0xFFFF_FFFE, 0x8000_0000, (uint)bytes.Length + 1 })
        {
            byte[] copy = (byte[])bytes.Clone();
            PutU32(copy, directoryAt + 4 + 4 * stream, size);
            AssertHostile(copy, $"stream {stream} size 0x{size:X}", expectFormatError: true);
        }
    }

    [Fact]
    public void Stream_block_numbers_out_of_range_give_format_error_or_results()
    {
        byte[] bytes = CorpusPdb();
        var (_, sizes, blocks, directoryAt) = ReadDirectory(bytes);
        int position = 4 + 4 * sizes.Length;
        for (int s = 0; s < sizes.Length; s++)
        {
            if (blocks[s].Length > 0)
            {
                byte[] copy = (byte[])bytes.Clone();
                PutU32(copy, directoryAt + position, 0xFFFF_FFFF);
                AssertHostile(copy, $"stream {s} first block 0xFFFFFFFF", expectFormatError: s is 1 or 3);
                copy = (byte[])bytes.Clone();
                PutU32(copy, directoryAt + position, U32(bytes, 40)); // == NumBlocks
                AssertHostile(copy, $"stream {s} first block = NumBlocks", expectFormatError: s is 1 or 3);
            }
            position += 4 * blocks[s].Length;
        }
    }

    [Fact]
    public void Hostile_dbi_module_and_publics_fields_give_format_error_or_results()
    {
        byte[] bytes = CorpusPdb();
        using var reference = PdbFile.FromMemory(bytes);
        var module = reference.Modules.First(m => m.SymbolStream > 0 && m.C13ByteSize > 0);
        int moduleRecord = 64;
        foreach (var m in reference.Modules.TakeWhile(m => m.Index < module.Index))
            moduleRecord = Align4(moduleRecord + 64 + Utf8Length(m.ModuleName) + 1 + Utf8Length(m.ObjectName) + 1);

        var cases = new List<(string Label, int Stream, int Offset, uint Value, int Size, bool Fatal)>
        {
            ("DBI signature 0", 3, 0, 0, 4, true),
            ("DBI module info size -1", 3, 24, 0xFFFF_FFFF, 4, true),
            ("DBI module info size huge", 3, 24, 0x7FFF_FFFF, 4, true),
            ("DBI section contribution size huge", 3, 28, 0x7FFF_0000, 4, true),
            ("DBI optional debug header size -2", 3, 48, 0xFFFF_FFFE, 4, true),
            ("DBI public stream 0xFFFE", 3, 16, 0xFFFE, 2, false),
            ("DBI public stream = DBI", 3, 16, 3, 2, false),
            ("DBI symbol record stream = info", 3, 20, 1, 2, false),
            ("DBI symbol record stream 0xFFFF", 3, 20, 0xFFFF, 2, false),
            ("module stream 0xFFFE", 3, moduleRecord + 34, 0xFFFE, 2, false),
            ("module stream = DBI", 3, moduleRecord + 34, 3, 2, false),
            ("module symbol bytes huge", 3, moduleRecord + 36, 0xFFFF_FFF0, 4, false),
            ("module C11 bytes huge", 3, moduleRecord + 40, 0x7FFF_FFF0, 4, false),
            ("module C13 bytes huge", 3, moduleRecord + 44, 0xFFFF_FFF0, 4, false),
            ("module symbol bytes 0", 3, moduleRecord + 36, 0, 4, false),
            ("info stream version old", 1, 0, 19970604, 4, false),
            ("named stream map size huge", 1, 28, 0xFFFF_FFF0, 4, false),
        };
        foreach (var c in cases)
        {
            byte[] copy = (byte[])bytes.Clone();
            long at = StreamByteOffset(copy, c.Stream, c.Offset);
            if (c.Size == 2) PutU16(copy, at, (ushort)c.Value); else PutU32(copy, at, c.Value);
            AssertHostile(copy, c.Label, expectFormatError: c.Fatal);
        }

        // The first bytes of the PSI (hash size, address map size) and of the module's C13 data.
        foreach (uint value in new uint[] { 0, 3, 0x7FFF_FFFF, 0xFFFF_FFFF })
        {
            byte[] copy = (byte[])bytes.Clone();
            PutU32(copy, StreamByteOffset(copy, reference.Dbi!.PublicSymbolStream, 0), value);
            AssertHostile(copy, $"PSI hash size 0x{value:X}");
            copy = (byte[])bytes.Clone();
            PutU32(copy, StreamByteOffset(copy, reference.Dbi.PublicSymbolStream, 4), value);
            AssertHostile(copy, $"PSI address map size 0x{value:X}");
            copy = (byte[])bytes.Clone();
            int c13 = (int)(module.SymbolByteSize + module.C11ByteSize);
            PutU32(copy, StreamByteOffset(copy, module.SymbolStream, c13 + 4), value);
            AssertHostile(copy, $"first C13 subsection length 0x{value:X}");
        }
    }

    private static int Utf8Length(string s) => System.Text.Encoding.UTF8.GetByteCount(s);
    private static int Align4(int v) => (v + 3) & ~3;

    [Fact]
    public void Randomly_corrupted_pdbs_give_format_error_or_results()
    {
        var random = new Random(20240601);
        byte[] corpus = CorpusPdb();
        byte[] synthetic = BuildSynthetic(blockSize: 512, omap: true);
        int opened = 0;
        long maxAllocated = 0;
        for (int i = 0; i < 400; i++)
        {
            byte[] copy = (byte[])(i % 2 == 0 ? corpus : synthetic).Clone();
            int edits = 1 + random.Next(8);
            for (int e = 0; e < edits; e++)
            {
                int at = random.Next(copy.Length);
                switch (random.Next(4))
                {
                    case 0: copy[at] = (byte)random.Next(256); break;
                    case 1: copy[at] = 0xFF; break;
                    case 2 when at + 4 <= copy.Length: PutU32(copy, at, (uint)random.Next()); break;
                    default: copy[at] = 0; break;
                }
            }
            var (ok, allocated) = AssertHostile(copy, $"corruption #{i}");
            if (ok) opened++;
            maxAllocated = Math.Max(maxAllocated, allocated);
        }
        output.WriteLine($"400 corrupted files: {opened} opened; at most {maxAllocated:N0} bytes allocated");
        Assert.True(opened > 100, "too few corrupted files got past Open to exercise the lazy readers");
    }

    [Fact]
    public void Corrupted_synthetic_streams_give_results_or_problems()
    {
        byte[] good = BuildSynthetic();
        var (_, sizes, _, _) = ReadDirectory(good);
        var random = new Random(99);
        // Overwrite each stream's bytes, one field-sized word at a time, with values that break bounds.
        uint[] values = [0, 1, 0xFFFF, 0x8000_0000, 0xFFFF_FFFF, 0xFFFF_FFF0, 0x7FFF_FFFF];
        for (int s = 1; s < sizes.Length; s++)
        {
            if (sizes[s] == 0xFFFF_FFFF || sizes[s] < 4) continue;
            for (int offset = 0; offset + 4 <= sizes[s]; offset += 4)
            {
                byte[] copy = (byte[])good.Clone();
                PutU32(copy, StreamByteOffset(copy, s, offset), values[random.Next(values.Length)]);
                AssertHostile(copy, $"stream {s} word {offset}");
            }
        }
    }
}
