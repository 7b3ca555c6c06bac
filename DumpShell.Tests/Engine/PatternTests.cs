using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using DumpShell.Analysis;
using DumpShell.Model;
using DumpShell.Tests.Synth;

namespace DumpShell.Tests.Engine;

/// <summary>
/// The pattern catalogue and detectors against ../shared/docs/patterns.md and the dump factory's scenarios: each
/// scenario yields its pattern, and no dump yields an exception pattern its truth does not name.
/// </summary>
public sealed partial class PatternTests : IDisposable
{
    private readonly SynthDumpFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static readonly Dictionary<string, Finding[]> FindingCache = new();

    /// <summary>Every built-in detector's findings for a Wine dump (failures fail the test).</summary>
    private static Finding[] Findings(string name)
    {
        lock (FindingCache)
        {
            if (FindingCache.TryGetValue(name, out var cached)) return cached;
            using var dump = Dump.Open(TestData.WineDump(name));
            var results = PatternRunner.Run(dump, options: WithSymbols).ToArray();
            Assert.All(results, r => Assert.Null(r.Failure));
            var findings = results.Select(r => r.Finding!).ToArray();
            FindingCache[name] = findings;
            return findings;
        }
    }

    /// <summary>The factory's symbol store (executables and the _pdb builds' PDBs): stack detectors name frames from it.</summary>
    private static readonly PatternOptions WithSymbols = new() { SymbolPath = Path.Combine(TestData.Wine, "symbols") };

    private static Finding[] Of(string name, string pattern) => Findings(name).Where(f => f.Pattern == pattern).ToArray();

    private static string Scenario(string dumpName) => TestData.Truth(dumpName).Str("scenario");

    public static TheoryData<string> WineDumps() => new(TestData.WineDumpNames());

    // ------------------------------------------------------------------ the catalogue

    private static string PatternsDoc => File.ReadAllText(Path.Combine(TestData.RepoRoot, "..", "shared", "docs", "patterns.md"));

    /// <summary>Rows of the document's "Summary table": Name | Category | Kind | Cmdlet/Detector.</summary>
    private static string[][] SummaryRows() =>
        PatternsDoc.Split("## Summary table")[1].Split('\n')
            .Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| Name", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray())
            .ToArray();

    [Fact]
    public void Catalogue_names_exactly_the_patterns_of_the_summary_table()
    {
        var rows = SummaryRows();
        Assert.Equal(58, rows.Length); // "Totals: 58 patterns"
        Assert.Equal(rows.Select(r => r[0]).Order(StringComparer.Ordinal), PatternCatalog.Patterns.Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var row in rows)
        {
            var p = PatternCatalog.Find(row[0])!;
            Assert.Equal(row[1], p.Category);
            Assert.Equal(row[2], p.Kind.ToString().ToLowerInvariant());
            string shown = row[3].Trim('`');
            if (p.Kind == PatternKind.Detect) Assert.Equal("Invoke-DumpPattern:" + p.DetectorId, shown);
            else Assert.Equal(shown, p.ShownBy);
        }
    }

    [Fact]
    public void Every_alias_of_the_name_variants_table_resolves_to_its_canonical_name()
    {
        var section = PatternsDoc.Split("## Name variants")[1].Split("## Summary table")[0];
        var rows = section.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| Alias", StringComparison.Ordinal))
            .Select(l => l.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray()).ToArray();
        Assert.NotEmpty(rows);
        foreach (var row in rows)
        {
            Assert.Equal(row[1], PatternCatalog.Find(row[0])?.Name);
            Assert.Contains(row[0], PatternCatalog.Find(row[1])!.Aliases);
        }
        Assert.Equal("NULL Pointer (Data)", PatternCatalog.Find("nullpointerdata")?.Name); // detector ids too, any case
        Assert.Null(PatternCatalog.Find("No Such Pattern"));
    }

    [Fact]
    public void Each_built_in_detector_reports_one_detect_pattern_of_the_catalogue()
    {
        var names = BuiltInDetectors.All.Select(d => d.Pattern).ToArray();
        Assert.Equal(names.Length, names.Distinct().Count());
        foreach (string name in names)
        {
            var p = PatternCatalog.Find(name);
            Assert.NotNull(p);
            Assert.Equal(name, p!.Name);
            Assert.Equal(PatternKind.Detect, p.Kind);
            Assert.True(p.Detected);
            Assert.Same(BuiltInDetectors.All.Single(d => d.Pattern == name), BuiltInDetectors.For(p.DetectorId!));
        }
        Assert.Equal(names.Length, PatternCatalog.Patterns.Count(p => p.Detected));
        // Detect patterns without a detector say what they wait for.
        Assert.All(PatternCatalog.Patterns.Where(p => p.Kind == PatternKind.Detect && !p.Detected), p => Assert.False(string.IsNullOrEmpty(p.Note)));
        Assert.All(PatternCatalog.Patterns.Where(p => p.Kind == PatternKind.View), p => Assert.False(p.Detected));
    }

    [Fact]
    public void Finding_properties_are_flat_scalars()
    {
        var allowed = new[] { typeof(string), typeof(bool), typeof(int), typeof(uint), typeof(long), typeof(ulong), typeof(double) };
        foreach (var property in typeof(Finding).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            Assert.True(type.IsEnum || allowed.Contains(type), $"Finding.{property.Name} is {property.PropertyType}, not a scalar");
        }
        foreach (string required in new[] { "Pattern", "Category", "Severity", "ThreadId", "Module", "Address", "Evidence", "Recommendation", "DumpPath", "Signature" })
            Assert.NotNull(typeof(Finding).GetProperty(required));
        Assert.Equal(typeof(uint?), typeof(Finding).GetProperty("ThreadId")!.PropertyType);
        Assert.Equal(typeof(ulong?), typeof(Finding).GetProperty("Address")!.PropertyType);
        Assert.Equal(new[] { "Info", "Warning", "Error", "Critical" }, Enum.GetNames<Severity>());
    }

    // ------------------------------------------------------------------ conventions, on every Wine dump

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Findings_follow_the_catalogue_conventions(string name)
    {
        using var dump = Dump.Open(TestData.WineDump(name));
        var tids = dump.Threads.Select(t => $"0x{t.Id:x}").ToHashSet();
        foreach (var f in Findings(name))
        {
            var pattern = PatternCatalog.Find(f.Pattern);
            Assert.NotNull(pattern);
            Assert.Equal(pattern!.Name, f.Pattern);
            Assert.Equal(pattern.Category, f.Category);
            Assert.Equal(dump.Path, f.DumpPath);
            Assert.StartsWith(f.Pattern + "|", f.Signature);
            Assert.False(string.IsNullOrWhiteSpace(f.Evidence));
            // Signatures carry no absolute addresses and no thread ids.
            var tokens = f.Signature[(f.Pattern.Length + 1)..].Split('|', ',', '+');
            Assert.DoesNotContain(tokens, t => tids.Contains(t));
            if (f.Address is { } a and >= 0x10000) Assert.DoesNotContain($"{a:x}", f.Signature);
            foreach (var t in dump.Threads) Assert.DoesNotContain($"0x{t.Teb:x}", f.Signature);
            if (f.IsDataGap)
            {
                Assert.Equal(Severity.Info, f.Severity);
                Assert.StartsWith(f.Pattern + "|not-evaluated|", f.Signature);
            }
        }
    }

    [Fact]
    public void Two_runs_of_the_same_program_give_the_same_signatures()
    {
        // deadlock_cs_x64 and deadlock_cs_x64_full: the same executable dumped in two runs (other pids, tids, addresses, times).
        Assert.Equal(TestData.Truth("deadlock_cs_x64").Str("symstore_image"), TestData.Truth("deadlock_cs_x64_full").Str("symstore_image"));
        Assert.NotEqual(TestData.Truth("deadlock_cs_x64").U32("pid"), TestData.Truth("deadlock_cs_x64_full").U32("pid"));
        // The full-memory dump holds the builtin DLLs' images, so their exports name the wait functions: the thread
        // classifier decides there and says "Not evaluated" in the normal dump. Patterns that read stacks are compared
        // in Analysis tests; the others must agree exactly.
        var normal = Findings("deadlock_cs_x64").Where(f => !StackPatterns.Contains(f.Pattern)).Select(f => f.Signature).Order(StringComparer.Ordinal).ToArray();
        var full = Findings("deadlock_cs_x64_full").Where(f => !StackPatterns.Contains(f.Pattern)).Select(f => f.Signature).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(normal);
        Assert.Equal(normal, full);
    }

    /// <summary>The patterns whose evidence depends on how far stacks are named (the thread classifier, symbols, residue).</summary>
    private static readonly HashSet<string> StackPatterns =
    [
        "Main Thread", "Active Thread", "Passive Thread (User Space)", "Blocked Thread (Software)", "Blocking Module", "Input Thread",
        "Message Box", "Not My Thread", "Incorrect Stack Trace", "Truncated Stack Trace", "Execution Residue (Unmanaged Space, User)",
        "Coincidental Symbolic Information", "Reduced Symbolic Information", "Hidden Exception (User Space)",
        "Wait Chain (Critical Sections)", "Wait Chain (General)", "Deadlock (Critical Sections)", "Deadlock (Mixed Objects, User Space)",
    ];

    // ------------------------------------------------------------------ each scenario yields its pattern

    /// <summary>
    /// The exception patterns each scenario may yield, from the "patterns" column of shared/dumpfactory/README.md and the
    /// scenario's exception in its truth. Scenarios not listed have no exception (trigger ready_event) and may yield none.
    /// </summary>
    private static readonly Dictionary<string, string[]> ExceptionPatternsNamedByTruth = new()
    {
        ["av_null_write"] = ["NULL Pointer (Data)"],          // "NULL Pointer (data): AV writing 0x18"
        ["null_call"] = ["NULL Pointer (Code)"],              // "NULL Pointer (code): AV executing 0"
        ["div_zero"] = ["Divide by Zero (User Mode)"],       // "Unhandled Exception (0xC0000094)"
        ["cpp_throw_msvc"] = ["C++ Exception"],              // "C++ Exception (0xE06D7363)"
        ["stack_overflow"] = ["Stack Overflow (User Mode)"], // "Stack Overflow (0xC00000FD)"
        // "Stack Buffer Overrun, corrupted stack": its ret jumps to 0x41414141, an AV executing that address.
        ["stack_bof"] = ["Local Buffer Overflow (User Space)", "Wild Code"],
        // "Heap Corruption": the second HeapFree faults in ntdll reading 0xffffffffffffffff (a non-canonical address).
        ["heap_corrupt"] = ["Dynamic Memory Corruption (Process Heap)", "Invalid Pointer (General)"],
    };

    /// <summary>The patterns about a failure the dump's exception shows (Stored Exception only decodes the record).</summary>
    private static readonly string[] ExceptionCategories =
        ["Exception Patterns", "Pointer Patterns", "Stack Overflow Patterns", "Dynamic Memory Corruption Patterns"];

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void No_exception_pattern_that_the_truth_does_not_name(string name)
    {
        var truth = TestData.Truth(name);
        string[] named = ExceptionPatternsNamedByTruth.GetValueOrDefault(Scenario(name), []);
        // Exception Stack Trace shows the stack of whatever exception was stored; it names no failure of its own.
        // A "Not evaluated" finding claims nothing (Double Free says so whenever Dynamic Memory Corruption fires).
        var found = Findings(name).Where(f => ExceptionCategories.Contains(f.Category) && !f.IsDataGap && f.Pattern is not "Stored Exception" and not "Exception Stack Trace")
            .Select(f => f.Pattern).Distinct().ToArray();
        Assert.All(found, p => Assert.Contains(p, named));
        Assert.Equal(truth.Has("exception"), Of(name, "Stored Exception").Length == 1);
        if (!truth.Has("exception"))
        {
            Assert.Empty(found);
            // Hang dumps (a thread that waits forever) may be Error for the wait-chain and deadlock patterns, never for another.
            Assert.DoesNotContain(Findings(name), f => f.Severity >= Severity.Error && f.Category is not ("Wait Chain Patterns" or "Deadlock and Livelock Patterns"));
        }
    }

    [Fact]
    public void Idle_is_a_manual_dump_with_no_error_or_critical_finding()
    {
        Assert.Equal("ready_event", TestData.Truth("idle_x64").Str("trigger"));
        var manual = Assert.Single(Of("idle_x64", "Manual Dump (Process)"));
        Assert.Equal(Severity.Info, manual.Severity);
        Assert.Equal("Manual Dump (Process)|no-exception", manual.Signature);
        Assert.DoesNotContain(Findings("idle_x64"), f => f.Severity >= Severity.Error);
        Assert.Empty(Of("idle_x64", "Spiking Thread"));
        Assert.Empty(Of("idle_x64", "Handle Leak"));
        Assert.Empty(Of("idle_x64", "Memory Leak (Process Heap)"));
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Manual_Dump_exactly_when_the_dump_was_written_on_request(string name)
    {
        // trigger: ready_event = a manual dump (no exception stream); second/first_chance_exception = a crash dump.
        bool manual = TestData.Truth(name).Str("trigger") == "ready_event";
        Assert.Equal(manual ? 1 : 0, Of(name, "Manual Dump (Process)").Length);
    }

    [Theory]
    [InlineData("spin_x64")]
    [InlineData("spin_pdb_x64")]
    public void Spin_yields_Spiking_Thread_for_the_spinner_alone(string name)
    {
        var spinner = TestData.Truth(name).Items("threads").Single(t => t.Str("name") == "spinner");
        var f = Assert.Single(Of(name, "Spiking Thread"));
        Assert.Equal(spinner.U32("tid"), f.ThreadId);
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("(spinner)", f.Evidence);
        // from_scenario.spinning_function: the spinner's start address; the signature names it as module+RVA.
        var spinning = TestData.Truth(name).GetProperty("from_scenario").GetProperty("spinning_function");
        Assert.EndsWith($"+0x{spinning.U64("rva"):x}", f.Signature);
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Only_spin_yields_Spiking_Thread(string name)
    {
        if (Scenario(name) != "spin") Assert.Empty(Of(name, "Spiking Thread"));
    }

    [Fact]
    public void Handles_yields_Handle_Leak_naming_Event()
    {
        // handles_by_type: the scenario made 1001 unnamed + 5 named events; live_process.handles the counts in the dump.
        var counts = TestData.Truth("handles_x64").GetProperty("live_process").GetProperty("handles").GetProperty("counts_by_type");
        int events = counts.GetProperty("Event").GetInt32();
        int total = counts.EnumerateObject().Sum(p => p.Value.GetInt32());
        var f = Assert.Single(Of("handles_x64", "Handle Leak"));
        Assert.Equal("Handle Leak|event", f.Signature);
        Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"{total:N0} handles: Event {events:N0}"), f.Evidence);
        // 1,006 events are below the catalogue's Warning thresholds (10,000 / 5,000): Info, the dominant type named.
        Assert.Equal(Severity.Info, f.Severity);

        using var dump = Dump.Open(TestData.WineDump("handles_x64"));
        var warned = PatternRunner.Findings(dump, [BuiltInDetectors.For("HandleLeak")!], new PatternOptions { HandleThreshold = 2000 }).ToArray();
        Assert.Equal(Severity.Warning, Assert.Single(warned).Severity);
        Assert.Contains("Event >= 1,000", warned[0].Evidence);
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Handle_Leak_only_for_the_handles_scenario(string name)
    {
        if (Scenario(name) != "handles") Assert.Empty(Of(name, "Handle Leak"));
    }

    [Fact]
    public void Lasterror_yields_one_summary_with_the_five_values()
    {
        var truth = TestData.Truth("lasterror_x64");
        var set = truth.Items("threads").Where(t => t.Has("last_error")).ToArray();
        Assert.Equal(5, set.Length);
        var f = Assert.Single(Of("lasterror_x64", "Last Error Collection"));
        foreach (var t in set)
            Assert.Contains($"0x{t.U32("tid"):x}: {t.U32("last_error")} {t.Str("last_error_name")}", f.Evidence);
        Assert.Equal("Last Error Collection|" + string.Join(",", set.Select(t => t.U32("last_error")).Order()), f.Signature);
        // 5 (access denied) and 6 (invalid handle) are on worker threads, not the main or exception thread: Info.
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Null(f.ThreadId);
    }

    [Theory]
    [InlineData("cpp_throw_msvc_x64")]
    [InlineData("cpp_throw_msvc_pdb_x64")]
    public void Cpp_throw_yields_Cpp_Exception_naming_the_thrown_type(string name)
    {
        var truth = TestData.Truth(name);
        var cpp = truth.GetProperty("from_scenario").GetProperty("cpp_exception");
        var f = Assert.Single(Of(name, "C++ Exception"));
        Assert.Equal("std::runtime_error", cpp.Str("thrown_type"));
        Assert.Contains($"C++ exception {cpp.Str("thrown_type")} \"{cpp.Str("what")}\"", f.Evidence);
        Assert.Equal(truth.GetProperty("exception").U32("thread"), f.ThreadId);
        Assert.Equal(truth.GetProperty("exception").U64("address"), f.Address);
        Assert.Equal(truth.GetProperty("from_scenario").Str("exe"), f.Module);
        // The thrower: the first exception-stack frame below the (unnamed) runtime, inside throw_runtime_error.
        Assert.StartsWith("C++ Exception|std::runtime_error|", f.Signature);
        string exe = Path.GetFileNameWithoutExtension(truth.GetProperty("from_scenario").Str("exe")).ToLowerInvariant();
        if (truth.Has("symbols")) Assert.EndsWith($"|{exe}!throw_runtime_error", f.Signature);
        else
        {
            ulong rva = ulong.Parse(RvaAtEnd().Match(f.Signature).Groups["rva"].Value, NumberStyles.HexNumber);
            var (start, end) = FunctionRange(truth, "throw_runtime_error");
            Assert.InRange(rva, start + 1, end);
        }
        Assert.Equal(Severity.Error, f.Severity);

        using var dump = Dump.Open(TestData.WineDump(name));
        var info = CppThrowInfo.Decode(dump, dump.Exception!)!;
        Assert.Equal(cpp.Str("type_descriptor_name"), info.DecoratedName);
        Assert.Equal(cpp.Items("catchable_type_names").Select(n => CppThrowInfo.Undecorate(n.GetString()!)), info.CatchableTypes);
        Assert.Equal(cpp.U64("throw_info_address"), info.ThrowInfo);
        Assert.Equal(truth.GetProperty("from_scenario").U64("image_base"), info.ImageBase);
        Assert.Equal(cpp.Str("what"), info.Message);
    }

    [Theory]
    [InlineData(".?AVruntime_error@std@@", "std::runtime_error")]
    [InlineData(".?AVexception@std@@", "std::exception")]
    [InlineData(".?AUParseError@Json@App@@", "App::Json::ParseError")]
    [InlineData(".?AW4Code@@", "Code")]
    [InlineData(".H", "int")]
    [InlineData(".PEAD", "char *")]
    [InlineData(".?AV?$basic_string@DU?$char_traits@D@std@@@std@@", ".?AV?$basic_string@DU?$char_traits@D@std@@@std@@")]
    public void RTTI_names_undecorate(string decorated, string expected) => Assert.Equal(expected, CppThrowInfo.Undecorate(decorated));

    /// <summary>A function's RVA range from the truth: the PDB's (symbols.functions) or nm's, ending where the next one starts.</summary>
    private static (ulong Start, ulong End) FunctionRange(JsonElement truth, string function)
    {
        if (truth.Opt("symbols")?.Items("functions").FirstOrDefault(f => f.Str("name") == function) is { ValueKind: JsonValueKind.Object } pdb)
            return (pdb.U64("rva"), pdb.U64("rva_end"));
        var nm = truth.GetProperty("from_build").Items("functions_from_nm").Select(f => (Name: f.Str("name"), Rva: f.U64("rva"))).OrderBy(f => f.Rva).ToArray();
        int i = Array.FindIndex(nm, f => f.Name == function);
        Assert.True(i >= 0, $"{function} not in functions_from_nm");
        return (nm[i].Rva, i + 1 < nm.Length ? nm[i + 1].Rva : nm[i].Rva + 0x1000);
    }

    [GeneratedRegex(@"\|[^|+]+\+0x(?<rva>[0-9a-f]+)$")]
    private static partial Regex RvaAtEnd();

    [Theory]
    [InlineData("stack_overflow_x64")]
    [InlineData("stack_overflow_pdb_x64")]
    public void Stack_overflow_yields_Stack_Overflow_with_the_return_address_inside_recurse(string name)
    {
        var truth = TestData.Truth(name);
        var e = truth.GetProperty("exception");
        Assert.Equal("recurse", e.GetProperty("expected_by_scenario").Str("function"));
        var f = Assert.Single(Of(name, "Stack Overflow (User Mode)"));
        Assert.Equal(e.U32("thread"), f.ThreadId);
        Assert.Equal(e.U64("address"), f.Address);
        // The comment does not say first chance (truth.first_chance is true, but the dump itself cannot tell): Error.
        Assert.Equal(Severity.Error, f.Severity);
        Assert.StartsWith("Stack Overflow (User Mode)|0xc00000fd|", f.Signature);
        Assert.Contains("cycle [", f.Evidence);
        if (truth.Has("symbols"))
        {
            // With the PDB from the symbol store the recursion is named.
            Assert.EndsWith("|stack_overflow_pdb!recurse", f.Signature);
            Assert.Contains("cycle [stack_overflow_pdb!recurse+0x", f.Evidence);
        }
        else
        {
            ulong rva = ulong.Parse(RvaAtEnd().Match(f.Signature).Groups["rva"].Value, NumberStyles.HexNumber);
            var (start, end) = FunctionRange(truth, "recurse");
            Assert.InRange(rva, start, end - 1);
        }
    }

    [Theory]
    [InlineData("div_zero_x64")]
    [InlineData("div_zero_pdb_x64")]
    public void Div_zero_yields_Divide_by_Zero(string name)
    {
        var e = TestData.Truth(name).GetProperty("exception");
        var f = Assert.Single(Of(name, "Divide by Zero (User Mode)"));
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Equal(e.U64("address"), f.Address);
        Assert.Equal(e.U32("thread"), f.ThreadId);
        Assert.StartsWith("0xC0000094 at ", f.Evidence);
        Assert.Contains("div", f.Evidence); // the faulting idiv, decoded from the code bytes in the dump
    }

    [Theory]
    [InlineData("null_call_x64")]
    [InlineData("null_call_pdb_x64")]
    public void Null_call_yields_NULL_Pointer_Code_with_the_caller_in_call_through_null(string name)
    {
        var truth = TestData.Truth(name);
        var e = truth.GetProperty("exception");
        var f = Assert.Single(Of(name, "NULL Pointer (Code)"));
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Equal(0UL, f.Address);
        Assert.Equal(e.U32("thread"), f.ThreadId);
        ulong rva = ulong.Parse(RvaAtEnd().Match(f.Signature).Groups["rva"].Value, NumberStyles.HexNumber);
        var (start, end) = FunctionRange(truth, "call_through_null");
        Assert.InRange(rva, start + 1, end);
        Assert.Empty(Of(name, "NULL Pointer (Data)"));
    }

    [Theory]
    [InlineData("av_null_write_x64")]
    [InlineData("av_null_write_pdb_x64")]
    public void Av_null_write_yields_NULL_Pointer_Data_writing_0x18(string name)
    {
        var e = TestData.Truth(name).GetProperty("exception");
        Assert.Equal("0x18", e.GetProperty("expected_by_scenario").Str("target_address"));
        var f = Assert.Single(Of(name, "NULL Pointer (Data)"));
        Assert.Equal(Severity.Error, f.Severity);
        Assert.Equal(e.U64("address"), f.Address);
        Assert.Equal(e.U32("thread"), f.ThreadId);
        Assert.StartsWith("Write of 0x0000000000000018 at ", f.Evidence);
        Assert.Contains("rax=0", f.Evidence);
        Assert.StartsWith("NULL Pointer (Data)|write|", f.Signature);
    }

    [Fact]
    public void Stack_bof_yields_Wild_Code_and_a_suspected_Local_Buffer_Overflow()
    {
        var e = TestData.Truth("stack_bof_x64").GetProperty("exception");
        Assert.Equal("0x41414141", e.GetProperty("expected_by_scenario").Str("target_address"));
        var wild = Assert.Single(Of("stack_bof_x64", "Wild Code"));
        Assert.Equal(Severity.Error, wild.Severity);
        Assert.Equal(0x41414141UL, wild.Address);
        var lbo = Assert.Single(Of("stack_bof_x64", "Local Buffer Overflow (User Space)"));
        Assert.Equal(Severity.Warning, lbo.Severity);
        Assert.StartsWith("Suspected:", lbo.Evidence);
    }

    [Fact]
    public void Leak_yields_Memory_Leak_from_the_table_of_same_size_blocks()
    {
        // leak: 20000 HeapAlloc(512) blocks, their pointers kept in block_pointer_array (the exe's .bss, a data section in the dump).
        var leak = TestData.Truth("leak_x64").GetProperty("leak");
        var f = Assert.Single(Of("leak_x64", "Memory Leak (Process Heap)"));
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Equal(leak.U64("block_pointer_array"), f.Address);
        Assert.StartsWith(string.Create(CultureInfo.InvariantCulture, $"{leak.Int("count"):N0} pointers to heap blocks "), f.Evidence);
        Assert.Equal("leak_x64.exe", f.Module);
        var stride = int.Parse(f.Signature.Split('|')[^1], CultureInfo.InvariantCulture);
        Assert.InRange(stride, leak.Int("block_size"), leak.Int("block_size") + 64); // block plus the heap's header
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Memory_Leak_only_for_the_leak_scenario(string name)
    {
        if (Scenario(name) != "leak") Assert.Empty(Of(name, "Memory Leak (Process Heap)"));
    }

    [Theory]
    [MemberData(nameof(WineDumps))]
    public void Every_dump_has_its_comment_environment_and_thread_age(string name)
    {
        var truth = TestData.Truth(name);
        var comment = Assert.Single(Of(name, "Embedded Comments"));
        Assert.StartsWith(truth.Str("comment"), comment.Evidence);
        Assert.Equal("Embedded Comments|trigger=none", comment.Signature);
        var hint = Assert.Single(Of(name, "Environment Hint"));
        Assert.Contains($"Command line: \"{truth.GetProperty("live_process").Str("command_line")}\"", hint.Evidence);
        Assert.Equal(Severity.Info, hint.Severity);
        Assert.Single(Of(name, "Thread Age"));
        Assert.Single(Of(name, "Not My Version (Software)"));
        Assert.Empty(Of(name, "Virtualized Process (WOW64)")); // no WOW64 dump in the set (dumpfactory README, 32-bit)
    }

    // ------------------------------------------------------------------ data gaps, failures, options

    [Fact]
    public void Missing_streams_give_one_not_evaluated_finding_per_pattern()
    {
        // MANIFEST: breakpad/minidump2.dmp, a small Windows XP dump: no ThreadInfoList, HandleData, MemoryInfoList or TEBs.
        using var dump = Dump.Open(TestData.Shared("breakpad/minidump2.dmp"));
        var findings = PatternRunner.Findings(dump).ToArray();
        foreach (string pattern in new[] { "Spiking Thread", "Thread Age", "Handle Leak", "Memory Leak (Process Heap)", "Last Error Collection", "Environment Hint" })
        {
            var f = Assert.Single(findings, x => x.Pattern == pattern);
            Assert.True(f.IsDataGap, pattern);
            Assert.StartsWith("Not evaluated: ", f.Evidence);
            Assert.Equal(Severity.Info, f.Severity);
            Assert.StartsWith($"{pattern}|not-evaluated|", f.Signature);
        }
        // The exception still gets its pattern (MANIFEST: write to 0x45).
        Assert.Single(findings, f => f.Pattern == "NULL Pointer (Data)");
    }

    [Fact]
    public void Non_Windows_dumps_get_no_Windows_data_gaps()
    {
        using var dump = Dump.Open(TestData.Shared("rust-minidump/linux-mini.dmp"));
        Assert.DoesNotContain(PatternRunner.Findings(dump), f => f.IsDataGap);
    }

    private sealed class ThrowingDetector : IDetector
    {
        public string Pattern => "Wild Code";
        public IEnumerable<Finding> Run(Dump dump, DetectorContext context)
        {
            yield return context.Create(Pattern, Severity.Error, "made before the failure", "partial");
            throw new InvalidOperationException("boom");
        }
    }

    [Fact]
    public void A_failing_detector_yields_one_failure_naming_itself_and_the_others_go_on()
    {
        using var dump = Dump.Open(TestData.WineDump("idle_x64"));
        var detectors = new IDetector[] { BuiltInDetectors.For("ManualDump")!, new ThrowingDetector(), BuiltInDetectors.For("EmbeddedComments")! };
        var results = PatternRunner.Run(dump, detectors).ToArray();
        var failure = Assert.Single(results, r => r.Failure is not null).Failure!;
        Assert.Equal("Wild Code", failure.Pattern);
        Assert.Equal(nameof(ThrowingDetector), failure.Detector);
        Assert.Equal("boom", failure.Exception.Message);
        Assert.Contains("Wild Code", failure.Message);
        Assert.Equal(new[] { "Manual Dump (Process)", "Embedded Comments" }, results.Where(r => r.Finding is not null).Select(r => r.Finding!.Pattern));
        Assert.DoesNotContain(results, r => r.Finding?.Signature == "Wild Code|partial");
    }

    /// <summary>An AMD64 dump with one thread, a module at 0x140000000, a comment and the given exception.</summary>
    private Dump CrashDump(ExceptionSpec exception, string? comment = null, byte[]? stack = null, ulong stackAt = 0x10_0000)
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(new ModuleSpec { BaseOfImage = 0x1_4000_0000, SizeOfImage = 0x2_0000, Name = @"C:\app\app.exe" },
            new ModuleSpec { BaseOfImage = 0x7FFA_1000_0000, SizeOfImage = 0x20_0000, Name = @"C:\Windows\System32\ntdll.dll" });
        var mem = stack is null ? null : b.AddMemory(stackAt, stack);
        b.AddThreadList(new ThreadSpec { ThreadId = 0x44, Stack = mem, Context = Contexts.Amd64(exception.ExceptionAddress, stackAt, stackAt) });
        exception.ThreadId = 0x44;
        exception.Context ??= Contexts.Amd64(exception.ExceptionAddress, stackAt, stackAt);
        b.AddException(exception);
        if (comment is not null) b.AddCommentW(comment);
        b.AddMemoryListOfAllBlocks();
        return _files.Open(b);
    }

    [Fact]
    public void A_first_chance_comment_lowers_exception_findings_one_level()
    {
        var av = new ExceptionSpec { ExceptionCode = WinConst.StatusAccessViolation, ExceptionAddress = 0x1_4000_1234, Parameters = [1, 0x20] };
        var dump = CrashDump(av, "*** procdump -ma -e 1 -f C0000005 app.exe\r\n*** First chance exception: C0000005.ACCESS_VIOLATION");
        var findings = PatternRunner.Findings(dump).ToArray();
        Assert.Equal(Severity.Warning, Assert.Single(findings, f => f.Pattern == "NULL Pointer (Data)").Severity);
        var comment = Assert.Single(findings, f => f.Pattern == "Embedded Comments");
        Assert.EndsWith("Trigger=FirstChanceException", comment.Evidence);
        Assert.Equal("Embedded Comments|trigger=firstchanceexception|procdump", comment.Signature);

        var plain = CrashDump(new ExceptionSpec { ExceptionCode = WinConst.StatusAccessViolation, ExceptionAddress = 0x1_4000_1234, Parameters = [1, 0x20] });
        Assert.Equal(Severity.Error, Assert.Single(PatternRunner.Findings(plain), f => f.Pattern == "NULL Pointer (Data)").Severity);
    }

    [Theory]
    [InlineData("*** Hung window detected: 0x00000000000A0B2C", DumpTrigger.HungWindow)]
    [InlineData("*** procdump -ma 4312", DumpTrigger.Manual)]
    [InlineData("*** procdump -ma -e 4312\n*** Unhandled exception: C0000005.ACCESS_VIOLATION", DumpTrigger.UnhandledException)]
    [InlineData("*** Process exceeded 80% CPU threshold for 10 seconds", DumpTrigger.CpuThreshold)]
    [InlineData("*** Commit threshold exceeded: 2048 MB", DumpTrigger.CommitThreshold)]
    [InlineData("DumpShell dump factory: scenario 'idle'", DumpTrigger.None)]
    public void Comment_triggers_are_classified(string comment, DumpTrigger expected) =>
        Assert.Equal(expected, CommentTrigger.Classify([comment]).Trigger);

    [Fact]
    public void A_stack_cookie_fail_fast_is_a_certain_Local_Buffer_Overflow_and_other_sub_codes_are_not()
    {
        var gs = CrashDump(new ExceptionSpec { ExceptionCode = 0xC0000409, ExceptionFlags = 1, ExceptionAddress = 0x1_4000_2000, Parameters = [2] });
        var f = Assert.Single(PatternRunner.Findings(gs), x => x.Pattern == "Local Buffer Overflow (User Space)");
        Assert.Equal(Severity.Critical, f.Severity);
        Assert.Contains("FAST_FAIL_STACK_COOKIE_CHECK_FAILURE", f.Evidence);

        var abort = CrashDump(new ExceptionSpec { ExceptionCode = 0xC0000409, ExceptionFlags = 1, ExceptionAddress = 0x1_4000_2000, Parameters = [7] });
        Assert.DoesNotContain(PatternRunner.Findings(abort), x => x.Pattern == "Local Buffer Overflow (User Space)");
    }

    [Fact]
    public void A_chained_exception_record_is_Multiple_Exceptions()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(new ModuleSpec { BaseOfImage = 0x1_4000_0000, SizeOfImage = 0x2_0000, Name = @"C:\app\app.exe" });
        var inner = new byte[0x98];
        BitConverter.GetBytes(0xC0000094u).CopyTo(inner, 0);   // ExceptionCode
        BitConverter.GetBytes(0x1_4000_1111UL).CopyTo(inner, 16); // ExceptionAddress
        b.AddMemoryList(b.AddMemory(0x5000, inner));
        b.AddThreadList(new ThreadSpec { ThreadId = 0x44 });
        b.AddException(new ExceptionSpec
        {
            ThreadId = 0x44, ExceptionCode = WinConst.StatusAccessViolation, ExceptionRecord = 0x5000, ExceptionAddress = 0x1_4000_2222, Parameters = [0, 0x10],
        });
        var f = Assert.Single(PatternRunner.Findings(_files.Open(b)), x => x.Pattern == "Multiple Exceptions (User Mode)");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Equal("Multiple Exceptions (User Mode)|0xc0000005,0xc0000094", f.Signature);
        Assert.Contains("app.exe+0x1111", f.Evidence);
    }

    [Fact]
    public void An_x64_dump_with_the_WOW64_layer_is_a_Virtualized_Process()
    {
        var dump = _files.Open(ProcessEnvironmentTests.Wow64Builder(out _, out _));
        var f = Assert.Single(PatternRunner.Findings(dump), x => x.Pattern == "Virtualized Process (WOW64)");
        Assert.Equal(Severity.Info, f.Severity);
        Assert.Equal(0x77A1_0000UL, f.Address);
        Assert.Contains(@"SysWOW64\ntdll.dll", f.Evidence);
        // The 32-bit side's environment says AMD64: the Environment Hint names it.
        var hint = Assert.Single(PatternRunner.Findings(dump), x => x.Pattern == "Environment Hint");
        Assert.Contains("PROCESSOR_ARCHITECTURE=AMD64 in a x86 process", hint.Evidence);
        // NtGlobalFlag 0x70 alone is what a process started under a debugger gets.
        Assert.Contains(PatternRunner.Findings(dump), x => x.Signature == "Instrumentation Information|debug-heap");
    }

    [Fact]
    public void Environment_Hint_warns_for_a_compatibility_layer_and_redacts_secrets()
    {
        var b = SynthDumpFiles.NewBuilder(Synth.ProcessorArchitecture.X86);
        var (memory, _) = ProcessEnvironmentTests.X86Process(0x7FFD_F000, 0x7FFD_9000, 0x0020_0000, 0x0021_0000, "app32.exe", 0, 0,
            "__COMPAT_LAYER=RunAsInvoker", "DOTNET_API_KEY=hunter2", "DOTNET_gcServer=1", @"PATH=C:\Users\bob\tools;C:\Windows\system32",
            @"SystemRoot=C:\Windows", "USERNAME=bob");
        memory.AddTo(b);
        b.AddThreadList(new ThreadSpec { ThreadId = 0x1234, Teb = 0x7FFD_F000 });
        b.AddMemoryListOfAllBlocks();
        var dump = _files.Open(b);
        var f = Assert.Single(PatternRunner.Findings(dump), x => x.Pattern == "Environment Hint");
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Contains("__COMPAT_LAYER=RunAsInvoker", f.Evidence);
        Assert.Contains("DOTNET_API_KEY=***", f.Evidence);
        Assert.DoesNotContain("hunter2", f.Evidence);
        Assert.Contains("DOTNET_gcServer=1", f.Evidence);
        Assert.Contains(@"PATH has C:\Users\bob\tools ahead of C:\Windows\system32", f.Evidence);
        Assert.DoesNotContain("USERNAME", f.Evidence);
        Assert.Equal("Environment Hint|__compat_layer,dotnet_api_key,dotnet_gcserver,path", f.Signature);

        var expected = PatternRunner.Findings(dump, [BuiltInDetectors.For("EnvironmentHint")!], new PatternOptions { ExpectedVariables = ["__COMPAT_LAYER"] });
        Assert.Equal(Severity.Info, Assert.Single(expected).Severity);
        // The page-heap flag of this layout (NtGlobalFlag 0x02000000) is Instrumentation Information.
        Assert.Contains(PatternRunner.Findings(dump), x => x.Signature == "Instrumentation Information|gflags|page-heap");
    }

    [Fact]
    public void Not_My_Version_checks_a_baseline_when_given()
    {
        var b = SynthDumpFiles.NewBuilder();
        b.AddModuleList(
            new ModuleSpec { BaseOfImage = 0x1_4000_0000, SizeOfImage = 0x2_0000, Name = @"C:\app\app.exe", VersionInfo = Synth.FixedFileInfo.FromVersion(2, 3, 0, 2) },
            new ModuleSpec { BaseOfImage = 0x1_8000_0000, SizeOfImage = 0x2_0000, Name = @"C:\app\app-core.dll", VersionInfo = Synth.FixedFileInfo.FromVersion(2, 1, 0, 14) },
            new ModuleSpec { BaseOfImage = 0x7FFA_1000_0000, SizeOfImage = 0x20_0000, Name = @"C:\Windows\System32\ntdll.dll", VersionInfo = Synth.FixedFileInfo.FromVersion(10, 0, 19041, 1) });
        b.AddThreadList(new ThreadSpec { ThreadId = 1 });
        var dump = _files.Open(b);

        // Without a baseline: ntdll 10.0.19041 matches OS build 19045 (servicing family), app-core.dll is a mixed install.
        var plain = PatternRunner.Findings(dump, [BuiltInDetectors.For("NotMyVersion")!]).ToArray();
        Assert.Contains(plain, f => f.Signature == "Not My Version (Software)|app-core.dll|mixed-install" && f.Severity == Severity.Info);
        var summary = Assert.Single(plain, f => f.Signature == "Not My Version (Software)|no-baseline");
        Assert.StartsWith("no baseline supplied; only OS/mixed-install checks ran", summary.Evidence);
        Assert.Contains("matches OS build 19045", summary.Evidence);

        var baseline = VersionBaseline.ParseCsv("Module,MinVersion,MaxVersion\napp-core.dll,2.3\napp.exe,2.3,2.3\n");
        var checkedAgainst = PatternRunner.Findings(dump, [BuiltInDetectors.For("NotMyVersion")!], new PatternOptions { Baseline = baseline }).ToArray();
        var f = Assert.Single(checkedAgainst);
        Assert.Equal(Severity.Warning, f.Severity);
        Assert.Equal("Not My Version (Software)|app-core.dll|below-min", f.Signature);
        Assert.StartsWith("app-core.dll 2.1.0.14 is below the baseline minimum 2.3.0.0", f.Evidence);

        var json = VersionBaseline.ParseJson("""[{"Module":"app.exe","MinVersion":"2.4"}]""");
        Assert.Equal(new VersionBaselineEntry("app.exe", new Version(2, 4, 0, 0), null), Assert.Single(json));
        Assert.Throws<FormatException>(() => VersionBaseline.ParseCsv("app.exe,not-a-version"));
    }

    [Fact]
    public void Repeated_block_contents_in_captured_heap_memory_are_a_Memory_Leak_reading()
    {
        // A full-memory-like dump: 4 MiB of private heap filled with 64-byte blocks holding "DSLEAK!!" (as leak_x64_full would).
        var b = SynthDumpFiles.NewBuilder();
        const ulong heap = 0x0200_0000;
        var bytes = new byte[4 << 20];
        for (int i = 0; i < bytes.Length; i += 64)
        {
            BitConverter.GetBytes((ulong)i).CopyTo(bytes, i); // a header that differs per block
            for (int j = 16; j < 64; j += 8) "DSLEAK!!"u8.CopyTo(bytes.AsSpan(i + j));
        }
        b.AddMemory64(heap, bytes);
        b.AddMemory64List();
        b.AddMemoryInfoList([new MemoryInfoSpec { BaseAddress = heap, AllocationBase = heap, RegionSize = (ulong)bytes.Length }]);
        b.AddThreadList(new ThreadSpec { ThreadId = 1 });
        var f = Assert.Single(PatternRunner.Findings(_files.Open(b), [BuiltInDetectors.For("MemoryLeak")!]));
        Assert.Equal("Memory Leak (Process Heap)|repeated-contents|dsleak!!", f.Signature);
        Assert.Contains("\"DSLEAK!!\"", f.Evidence);
    }

    [Fact]
    public void Private_commit_above_the_threshold_is_checked_against_the_heaps()
    {
        // leak_x64: with a threshold below its private commit the size rule runs; its PEB heap holds less than half, so Info.
        using var dump = Dump.Open(TestData.WineDump("leak_x64"));
        ulong committed = TestData.Truth("leak_x64").GetProperty("live_process").GetProperty("memory_info").U64("committed_private_bytes");
        var f = PatternRunner.Findings(dump, [BuiltInDetectors.For("MemoryLeak")!], new PatternOptions { LeakThreshold = committed / 2 })
            .Single(x => x.Signature.StartsWith("Memory Leak (Process Heap)|private-commit", StringComparison.Ordinal));
        Assert.Equal(Severity.Info, f.Severity);
        Assert.StartsWith($"Private commit {DetectorContext.Bytes(committed)} (committed private regions of MemoryInfoList) >= threshold", f.Evidence);
    }
}
