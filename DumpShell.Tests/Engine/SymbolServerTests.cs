using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DumpShell.Symbols;
using Xunit;
using Xunit.Abstractions;

namespace DumpShell.Tests.Engine;

/// <summary>
/// SymSrv keys, the symbol store (against the Wine corpus's real SymSrv-layout store and stores built here)
/// and the symbol server client (against a tiny HTTP server on 127.0.0.1 that counts requests). No test
/// reaches any other address: every path here names only folders and 127.0.0.1, and the client is made
/// with the proxy off.
/// </summary>
public sealed class SymbolServerTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("dumpshell-symtest-");

    public void Dispose()
    {
        try { _temp.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private string Temp(string name)
    {
        string path = Path.Combine(_temp.FullName, name);
        Directory.CreateDirectory(path);
        return path;
    }

    private static SymbolServerOptions Offline(TimeSpan? timeout = null) => new()
    {
        UseProxy = false,
        Timeout = timeout ?? TimeSpan.FromSeconds(20),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    };

    private SymbolStore Store(string path, string cache, SymbolServerOptions? server = null, Action<SymbolDownloadProgress>? progress = null,
        Func<string, SymbolKey, bool>? verify = null) =>
        new(SymbolPath.Parse(path), new SymbolStoreOptions
        {
            CacheDirectory = cache,
            Server = server ?? Offline(),
            Progress = progress,
            VerifyFlatMatch = verify,
        });

    private static string[] FilesUnder(string dir) =>
        Directory.Exists(dir) ? Directory.GetFiles(dir, "*", SearchOption.AllDirectories) : [];

    private static readonly Guid SampleGuid = new("ca2af7b9-0c47-4857-4c4c-44205044422e");

    // ================================================================ keys

    [Fact]
    public void ImageKey_IsTimeStamp8HexThenSizeOfImageHex()
    {
        Assert.Equal("av_null_write_pdb.exe/6B05236C3D000/av_null_write_pdb.exe",
            SymbolKey.ForImage("av_null_write_pdb.exe", 0x6B05236C, 0x3D000).RelativePath);
        Assert.Equal("ntdll.dll/000012341000/ntdll.dll", SymbolKey.ForImage("ntdll.dll", 0x1234, 0x1000).ToString());
        Assert.Equal(SymbolKeyKind.Image, SymbolKey.ForImage("a.exe", 1, 2).Kind);
    }

    [Fact]
    public void PdbKey_IsGuidNUppercaseThenAgeHex()
    {
        var key = SymbolKey.ForPdb("av_null_write_pdb.pdb", SampleGuid, 1);
        Assert.Equal("av_null_write_pdb.pdb/CA2AF7B90C4748574C4C44205044422E1/av_null_write_pdb.pdb", key.RelativePath);
        Assert.Equal("x.pdb/CA2AF7B90C4748574C4C44205044422E1A/x.pdb", SymbolKey.ForPdb("x.pdb", SampleGuid, 0x1A).RelativePath);
        Assert.Equal("old.pdb/3A2B1C0D2/old.pdb", SymbolKey.ForPdb("old.pdb", 0x3A2B1C0Du, 2u).RelativePath);
    }

    [Fact]
    public void BreakpadKey_DropsPdbAndAddsSym()
    {
        Assert.Equal("test_app.pdb/5A9832E5287241C1838ED98914E9B7FF1/test_app.sym",
            SymbolKey.ForBreakpad("test_app.pdb", "5a9832e5287241c1838ed98914e9b7ff1").RelativePath);
        Assert.Equal("libc.so.6/0123ABCD0/libc.so.6.sym", SymbolKey.ForBreakpad("libc.so.6", "0123abcd0").RelativePath);
        Assert.False(SymbolKey.TryForBreakpad("x.pdb", "../../etc", out _, out _));
        Assert.False(SymbolKey.TryForBreakpad("x.pdb", "", out _, out _));
        Assert.False(SymbolKey.TryForBreakpad("x.pdb", new string('A', 65), out _, out _));
    }

    [Fact]
    public void FileNameFromPath_TakesTheLastComponent()
    {
        Assert.Equal("foo.pdb", SymbolKey.FileNameFromPath(@"C:\build\x\foo.pdb"));
        Assert.Equal("foo.pdb", SymbolKey.FileNameFromPath("/home/u/foo.pdb"));
        Assert.Equal("foo.pdb", SymbolKey.FileNameFromPath("foo.pdb"));
        Assert.Equal("", SymbolKey.FileNameFromPath(@"C:\dir\"));
    }

    public static TheoryData<string> HostileNames() => new(HostileNameList);

    private static readonly string[] HostileNameList =
    [
        "", " ", "..", ".", "...", "../x.pdb", @"..\x.pdb", "a/../../b.pdb", "/etc/passwd", @"C:\x.pdb", "C:x.pdb",
        @"\\server\share\x.pdb", "a/b.pdb", @"a\b.pdb", "x\0.pdb", "x\n.pdb", "x\u202E.pdb", "x.pdb:stream",
        "x?.pdb", "x*.pdb", "x|y.pdb", "x<y.pdb", "x\".pdb", "x.pdb.", " x.pdb", "x.pdb ", "CON", "nul.pdb",
        "com1.dll", "LPT9", new string('a', 256), "a..b.pdb", "\ud800.pdb",
    ];

    [Theory]
    [MemberData(nameof(HostileNames), DisableDiscoveryEnumeration = true)]
    public void HostileNames_AreRejectedByEveryKeyFactory(string name)
    {
        Assert.NotNull(SymbolKey.NameProblem(name));
        Assert.False(SymbolKey.TryForImage(name, 1, 2, out var k1, out _));
        Assert.False(SymbolKey.TryForPdb(name, SampleGuid, 1, out var k2, out _));
        Assert.False(SymbolKey.TryForBreakpad(name, "AB", out var k3, out _));
        Assert.Null(k1);
        Assert.Null(k2);
        Assert.Null(k3);
        Assert.Throws<ArgumentException>(() => SymbolKey.ForPdb(name, SampleGuid, 1));
    }

    [Theory]
    [InlineData("ntdll.dll")]
    [InlineData("KERNELBASE.dll")]
    [InlineData("my app.exe")]
    [InlineData("libstdc++-6.dll")]
    [InlineData("d\u00e9j\u00e0.pdb")]
    [InlineData("x#1%20.pdb")]
    [InlineData("\U0001F600.pdb")]
    public void OrdinaryNames_AreAccepted(string name) => Assert.Null(SymbolKey.NameProblem(name));

    // ================================================================ the Wine corpus store

    private static string WineSymbols => Path.Combine(TestData.Wine, "symbols");

    /// <summary>(exe name, TimeDateStamp, SizeOfImage, expected path) for every truth file, from the build facts.</summary>
    private static IEnumerable<(string Dump, string Exe, uint Stamp, uint Size, string Expected)> WineImages() =>
        TestData.WineDumpNames().Select(n =>
        {
            var truth = TestData.Truth(n);
            var build = truth.GetProperty("from_build");
            var pe = build.GetProperty("pe");
            return (n, build.Str("exe"), pe.U32("time_date_stamp"), pe.U32("size_of_image"),
                Path.GetFullPath(Path.Combine(TestData.Wine, truth.Str("symstore_image"))));
        });

    private static IEnumerable<(string Dump, string Pdb, Guid Guid, uint Age, string Expected)> WinePdbs() =>
        TestData.WineDumpNames().Where(n => TestData.Truth(n).Has("symbols")).Select(n =>
        {
            var s = TestData.Truth(n).GetProperty("symbols");
            return (n, s.Str("pdb"), Guid.Parse(s.Str("pdb_guid")), s.U32("pdb_age"),
                Path.GetFullPath(Path.Combine(TestData.Wine, s.Str("symstore_pdb_path"))));
        });

    [Fact]
    public void WineStore_FindsEveryExecutableByTimeStampAndSize()
    {
        string cache = Temp("cache");
        using var store = Store(WineSymbols, cache);
        var images = WineImages().ToArray();
        Assert.NotEmpty(images);
        foreach (var (dump, exe, stamp, size, expected) in images)
        {
            var result = store.FindImage(exe, stamp, size);
            Assert.True(result.Found, $"{dump}: {exe} {stamp:X8}{size:X}: {result.Message}");
            Assert.Equal(expected, result.Path);
            Assert.Equal(SymbolSourceKind.Folder, result.Source);
            Assert.Equal(Path.GetFullPath(WineSymbols), result.Location);
        }
        output.WriteLine($"{images.Length} images found.");
        Assert.Empty(FilesUnder(cache));
        Assert.Equal(0, store.Client.RequestCount);
    }

    [Fact]
    public void WineStore_FindsEveryPdbByGuidAndAge()
    {
        string cache = Temp("cache");
        using var store = Store(WineSymbols, cache);
        var pdbs = WinePdbs().ToArray();
        Assert.NotEmpty(pdbs);
        foreach (var (dump, pdb, guid, age, expected) in pdbs)
        {
            var result = store.FindPdb(pdb, guid, age);
            Assert.True(result.Found, $"{dump}: {pdb}: {result.Message}");
            Assert.Equal(expected, result.Path);
            Assert.Equal(SymbolSourceKind.Folder, result.Source);

            // A different age or GUID is another file: not found (flat search finds nothing either, the store is not flat).
            Assert.False(store.FindPdb(pdb, guid, age + 1).Found);
            Assert.False(store.FindPdb(pdb, Guid.NewGuid(), age).Found);
        }
        output.WriteLine($"{pdbs.Length} PDBs found.");
        Assert.Empty(FilesUnder(cache));
    }

    [Fact]
    public void WineStore_AsALocalSrvUpstream_AndAsACache()
    {
        var (_, exe, stamp, size, expected) = WineImages().First();
        var (_, pdb, guid, age, expectedPdb) = WinePdbs().First();

        using (var srv = Store("srv*" + WineSymbols, Temp("c1")))
        {
            Assert.Equal(expected, srv.FindImage(exe, stamp, size).Path);
            Assert.Equal(expectedPdb, srv.FindPdb(pdb, guid, age).Path);
        }
        using (var asCache = Store("cache*" + WineSymbols, Temp("c2")))
        {
            var result = asCache.FindPdb(pdb, guid, age);
            Assert.Equal(expectedPdb, result.Path);
            Assert.Equal(SymbolSourceKind.Cache, result.Source);
        }
        using (var sessionCache = Store("", WineSymbols))
        {
            var result = sessionCache.FindImage(exe, stamp, size);
            Assert.Equal(expected, result.Path);
            Assert.Equal(SymbolSourceKind.Cache, result.Source);
        }
    }

    [Fact]
    public void WineStore_NamesDifferingInCase_AreFound()
    {
        var (_, pdb, guid, age, expected) = WinePdbs().First();
        using var store = Store(WineSymbols, Temp("cache"));
        Assert.Equal(expected, store.FindPdb(pdb.ToUpperInvariant(), guid, age).Path);

        using var exact = new SymbolStore(SymbolPath.Parse(WineSymbols),
            new SymbolStoreOptions { CacheDirectory = Temp("cache2"), IgnoreCaseFallback = false, Server = Offline() });
        if (!OperatingSystem.IsWindows() && !OperatingSystem.IsMacOS())
            Assert.False(exact.FindPdb(pdb.ToUpperInvariant(), guid, age).Found);
    }

    [Fact]
    public void Results_AreRememberedForTheSession()
    {
        string folder = Temp("store");
        string cache = Temp("cache");
        using var store = Store(folder, cache);
        var key = SymbolKey.ForImage("late.dll", 0x11111111, 0x2000);
        Assert.False(store.Find(key).Found);

        // The file appears after the first lookup: the store keeps its answer until ClearMemory.
        string path = Path.Combine(folder, "late.dll", key.Id, "late.dll");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "x");
        Assert.False(store.Find(key).Found);
        store.ClearMemory();
        Assert.Equal(path, store.Find(key).Path);
        File.Delete(path);
        Assert.Equal(path, store.Find(key).Path);
    }

    [Fact]
    public void FlatFolder_FindsByName_AndVerifyCanRefuse()
    {
        string folder = Temp("flat");
        File.WriteAllText(Path.Combine(folder, "app.pdb"), "flat");
        Directory.CreateDirectory(Path.Combine(folder, "symbols", "dll"));
        File.WriteAllText(Path.Combine(folder, "symbols", "dll", "lib.dll"), "dll");

        using (var store = Store(folder, Temp("c1")))
        {
            var result = store.FindPdb("app.pdb", SampleGuid, 1);
            Assert.Equal(SymbolSourceKind.FlatFolder, result.Source);
            Assert.Equal(Path.Combine(folder, "app.pdb"), result.Path);
            Assert.Equal(Path.Combine(folder, "symbols", "dll", "lib.dll"), store.FindImage("lib.dll", 1, 0x1000).Path);
        }
        using (var verified = Store(folder, Temp("c2"), verify: (_, _) => false))
        {
            var result = verified.FindPdb("app.pdb", SampleGuid, 1);
            Assert.False(result.Found);
            Assert.Contains(result.Notes, n => n.Contains("app.pdb", StringComparison.Ordinal));
        }
        // A srv* upstream store is SymSrv layout only: no flat search.
        using (var srv = Store("srv*" + folder, Temp("c3")))
            Assert.False(srv.FindPdb("app.pdb", SampleGuid, 1).Found);
    }

    [Fact]
    public void TwoTierStore_WithIndex2_IsSearched()
    {
        string folder = Temp("twotier");
        File.WriteAllText(Path.Combine(folder, "index2.txt"), "");
        var key = SymbolKey.ForPdb("kernel32.pdb", SampleGuid, 2);
        string path = Path.Combine(folder, "ke", "kernel32.pdb", key.Id, "kernel32.pdb");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, "pdb");

        using var store = Store("srv*" + folder, Temp("cache"));
        var result = store.Find(key);
        Assert.Equal(path, result.Path);
        Assert.Equal(SymbolSourceKind.Folder, result.Source);
    }

    [Fact]
    public void LocalStore_FilePtr_PointsToTheFile()
    {
        string folder = Temp("ptrstore");
        string real = Path.Combine(Temp("elsewhere"), "real.pdb");
        File.WriteAllText(real, "pdb");
        var key = SymbolKey.ForPdb("p.pdb", SampleGuid, 1);
        string idDir = Path.Combine(folder, "p.pdb", key.Id);
        Directory.CreateDirectory(idDir);
        File.WriteAllText(Path.Combine(idDir, "file.ptr"), "PATH:" + real);

        var m = SymbolKey.ForPdb("m.pdb", SampleGuid, 1);
        Directory.CreateDirectory(Path.Combine(folder, "m.pdb", m.Id));
        File.WriteAllText(Path.Combine(folder, "m.pdb", m.Id, "file.ptr"), "MSG:withdrawn");

        using var store = Store("srv*" + folder, Temp("cache"));
        Assert.Equal(real, store.Find(key).Path);
        var missing = store.Find(m);
        Assert.False(missing.Found);
        Assert.Contains(missing.Notes, n => n.Contains("withdrawn", StringComparison.Ordinal));
    }

    [SkippableUnlessLinuxFact]
    public void WindowsPaths_AreSkippedOnOtherSystems_NotMadeRelative()
    {
        string cwdProbe = Path.GetFullPath(@"c:\sym");
        using var store = Store(@"srv*c:\sym*http://127.0.0.1:9/x;\\server\share;C:\Dir1", Temp("cache"));
        Assert.Equal(3, store.PathNotes.Count);
        Assert.DoesNotContain(store.Folders, f => f.Contains(@"\\server", StringComparison.Ordinal) || f.Contains("Dir1", StringComparison.Ordinal));
        Assert.DoesNotContain(store.Caches, c => c == cwdProbe);
        Assert.Equal(store.CacheDirectory, Assert.Single(store.Servers).Cache);
    }

    [Fact]
    public void Plan_CachesAndServersInOrder()
    {
        string c1 = Temp("c1"), d1 = Temp("d1"), session = Temp("session");
        using var store = Store($"cache*{c1};srv*http://127.0.0.1:9/a;srv*{d1}*http://127.0.0.1:9/b;srv**http://127.0.0.1:9/c", session);
        Assert.Equal([c1, d1, session], store.Caches);
        Assert.Equal([("http://127.0.0.1:9/a", c1), ("http://127.0.0.1:9/b", d1), ("http://127.0.0.1:9/c", session)], store.Servers);
    }

    // ================================================================ the symbol server client

    [Fact]
    public async Task Download_GoesIntoTheCache_AndIsNotRequestedAgain()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("app.pdb", SampleGuid, 1);
        byte[] content = RandomBytes(200_000, seed: 1);
        server.Put(key, content);
        string cache = Temp("cache");

        using (var store = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("session")))
        {
            var result = await store.FindAsync(key);
            Assert.True(result.Found, result.Message);
            Assert.Equal(SymbolSourceKind.Server, result.Source);
            Assert.Equal(Path.Combine(cache, "app.pdb", key.Id, "app.pdb"), result.Path);
            Assert.Equal(content, await File.ReadAllBytesAsync(result.Path!));
            Assert.Equal(1, server.RequestCount);

            // The same store remembers the path.
            Assert.Equal(result.Path, (await store.FindAsync(key)).Path);
            Assert.Equal(1, server.RequestCount);
        }
        // A new session finds it in the cache: nothing is requested.
        using (var again = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("session2")))
        {
            var result = await again.FindAsync(key);
            Assert.Equal(SymbolSourceKind.Cache, result.Source);
            Assert.Equal(1, server.RequestCount);
            Assert.Equal(0, again.Client.RequestCount);
        }
        // The client alone: the cache has it, nothing requested.
        using (var client = new SymbolServerClient(Offline()))
        {
            var result = await client.DownloadAsync(server.SymbolsUrl, key, cache);
            Assert.Equal(SymbolDownloadStatus.Cached, result.Status);
            Assert.Equal(0, client.RequestCount);
        }
        Assert.DoesNotContain(FilesUnder(cache), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Download_WithoutDownstreamStore_UsesTheSessionCache_OrThePrecedingCacheStar()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForImage("app.exe", 0x6B05236C, 0x3D000);
        server.Put(key, RandomBytes(1000, 2));

        string session = Temp("session");
        using (var store = Store($"srv*{server.SymbolsUrl}", session))
            Assert.Equal(Path.Combine(session, "app.exe", "6B05236C3D000", "app.exe"), (await store.FindAsync(key)).Path);

        string cacheStar = Temp("cachestar");
        using (var store = Store($"cache*{cacheStar};srv*{server.SymbolsUrl}", Temp("session2")))
            Assert.Equal(Path.Combine(cacheStar, "app.exe", "6B05236C3D000", "app.exe"), (await store.FindAsync(key)).Path);
        Assert.Equal(2, server.RequestCount);
    }

    [Fact]
    public async Task NotFound_IsRequestedOncePerSession()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("missing.pdb", SampleGuid, 1);
        string cache = Temp("cache");

        using var client = new SymbolServerClient(Offline());
        var first = await client.DownloadAsync(server.SymbolsUrl, key, cache);
        Assert.Equal(SymbolDownloadStatus.NotFound, first.Status);
        Assert.Equal(1, server.CountOf("/missing.pdb/" + key.Id + "/missing.pdb"));
        Assert.Equal(1, server.CountOf("/file.ptr"));
        int afterFirst = server.RequestCount;

        var second = await client.DownloadAsync(server.SymbolsUrl, key, cache);
        Assert.Equal(SymbolDownloadStatus.NotFound, second.Status);
        Assert.True(second.Remembered);
        Assert.Equal(afterFirst, server.RequestCount);
        Assert.True(client.IsRemembered(server.SymbolsUrl, key));

        // Two stores sharing the client (one session): still no new request.
        using (var store = new SymbolStore(SymbolPath.Parse($"srv*{cache}*{server.SymbolsUrl}"), new SymbolStoreOptions { CacheDirectory = cache }, client))
        {
            Assert.False((await store.FindAsync(key)).Found);
            Assert.False((await store.FindAsync(key)).Found);
        }
        Assert.Equal(afterFirst, server.RequestCount);

        // A new session asks again, once.
        using (var store = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("s2")))
        {
            Assert.False(store.Find(key).Found);
            Assert.False(store.Find(key).Found);
        }
        Assert.Equal(2 * afterFirst, server.RequestCount);
        Assert.Empty(FilesUnder(cache));
    }

    [Fact]
    public async Task FilePtr_WithUrl_IsFollowed()
    {
        string root = Temp("srvroot");
        await using var server = new TinyServer(root);
        var key = SymbolKey.ForPdb("redirected.pdb", SampleGuid, 3);
        byte[] content = RandomBytes(5000, 3);
        string elsewhere = Path.Combine(root, "elsewhere");
        Directory.CreateDirectory(elsewhere);
        await File.WriteAllBytesAsync(Path.Combine(elsewhere, "real.bin"), content);
        server.PutText(key, "file.ptr", $"PATH:{server.BaseUrl}/elsewhere/real.bin\r\n");

        string cache = Temp("cache");
        using var store = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("s"));
        var result = await store.FindAsync(key);
        Assert.True(result.Found, string.Join("; ", result.Notes));
        Assert.Equal(Path.Combine(cache, "redirected.pdb", key.Id, "redirected.pdb"), result.Path);
        Assert.Equal(content, await File.ReadAllBytesAsync(result.Path!));
        Assert.Equal(["/symbols/redirected.pdb/" + key.Id + "/redirected.pdb", "/symbols/redirected.pdb/" + key.Id + "/file.ptr", "/elsewhere/real.bin"],
            server.Requests);
    }

    [Fact]
    public async Task FilePtr_WithLocalPath_IsCopiedIntoTheCache()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForImage("share.dll", 0x12345678, 0x9000);
        string real = Path.Combine(Temp("share"), "share.dll");
        byte[] content = RandomBytes(3000, 4);
        await File.WriteAllBytesAsync(real, content);
        server.PutText(key, "file.ptr", "PATH:" + real);

        string cache = Temp("cache");
        using var client = new SymbolServerClient(Offline());
        var result = await client.DownloadAsync(server.SymbolsUrl, key, cache);
        Assert.Equal(SymbolDownloadStatus.Downloaded, result.Status);
        Assert.Equal(content, await File.ReadAllBytesAsync(result.Path!));

        using var strict = new SymbolServerClient(Offline() with { AllowLocalFilePointers = false });
        var refused = await strict.DownloadAsync(server.SymbolsUrl, key, Temp("cache2"));
        Assert.Equal(SymbolDownloadStatus.Failed, refused.Status);
    }

    [Fact]
    public async Task FilePtr_WithMessage_IsReportedAndRemembered()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("gone.pdb", SampleGuid, 1);
        server.PutText(key, "file.ptr", "MSG:This file was withdrawn.");
        using var client = new SymbolServerClient(Offline());
        var result = await client.DownloadAsync(server.SymbolsUrl, key, Temp("cache"));
        Assert.Equal(SymbolDownloadStatus.Message, result.Status);
        Assert.Equal("This file was withdrawn.", result.Message);
        int count = server.RequestCount;
        Assert.Equal(SymbolDownloadStatus.Message, (await client.DownloadAsync(server.SymbolsUrl, key, Temp("cache"))).Status);
        Assert.Equal(count, server.RequestCount);
    }

    [Fact]
    public async Task SlowServer_TimesOut_BeforeHeaders()
    {
        await using var server = new TinyServer(Temp("srvroot")) { StallBeforeHeaders = true };
        var key = SymbolKey.ForPdb("slow.pdb", SampleGuid, 1);
        server.Put(key, RandomBytes(100, 5));
        string cache = Temp("cache");
        using var client = new SymbolServerClient(Offline(TimeSpan.FromMilliseconds(300)));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var result = await client.DownloadAsync(server.SymbolsUrl, key, cache);
        Assert.Equal(SymbolDownloadStatus.TimedOut, result.Status);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), watch.Elapsed.ToString());
        Assert.Empty(FilesUnder(cache));

        // Time-outs are not remembered as misses: a later attempt asks again.
        Assert.False(client.IsRemembered(server.SymbolsUrl, key));
    }

    [Fact]
    public async Task SlowServer_TimesOut_InTheMiddleOfTheBody_AndLeavesNoPartialFile()
    {
        await using var server = new TinyServer(Temp("srvroot")) { StallAfterBytes = 1000 };
        var key = SymbolKey.ForPdb("half.pdb", SampleGuid, 1);
        server.Put(key, RandomBytes(100_000, 6));
        string cache = Temp("cache");
        using var store = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("s"), Offline(TimeSpan.FromMilliseconds(500)));
        var result = await store.FindAsync(key);
        Assert.False(result.Found);
        Assert.Contains(result.Notes, n => n.Contains("TimedOut", StringComparison.Ordinal));
        Assert.Empty(FilesUnder(cache));
    }

    [Fact]
    public async Task Cancellation_Throws_AndIsNotRemembered()
    {
        await using var server = new TinyServer(Temp("srvroot")) { StallBeforeHeaders = true };
        var key = SymbolKey.ForPdb("cancel.pdb", SampleGuid, 1);
        server.Put(key, RandomBytes(100, 7));
        using var store = Store($"srv*{server.SymbolsUrl}", Temp("cache"));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.FindAsync(key, cts.Token));

        server.StallBeforeHeaders = false;
        Assert.True((await store.FindAsync(key)).Found);
    }

    [Fact]
    public async Task Progress_IsReportedForTheDownload()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("big.pdb", SampleGuid, 1);
        byte[] content = RandomBytes(700_000, 8);
        server.Put(key, content);
        var reports = new ConcurrentQueue<SymbolDownloadProgress>();
        using var store = Store($"srv*{server.SymbolsUrl}", Temp("cache"), progress: reports.Enqueue);
        Assert.True((await store.FindAsync(key)).Found);

        var list = reports.ToArray();
        Assert.True(list.Length >= 2, $"{list.Length} reports");
        Assert.All(list, p => Assert.Equal(content.Length, p.TotalBytes));
        Assert.Equal(content.Length, list[^1].BytesReceived);
        Assert.True(list.Zip(list.Skip(1)).All(p => p.First.BytesReceived <= p.Second.BytesReceived));
        Assert.EndsWith("/big.pdb", list[0].Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HostileNames_AreRejected_WithoutARequest()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        string cache = Temp("cache");
        using var store = Store($"srv*{cache}*{server.SymbolsUrl}", Temp("session"));
        foreach (string name in HostileNameList)
        {
            var pdb = await store.FindPdbAsync(name, SampleGuid, 1);
            Assert.Equal(SymbolLookupStatus.InvalidName, pdb.Status);
            Assert.Null(pdb.Path);
            Assert.Equal(SymbolLookupStatus.InvalidName, (await store.FindImageAsync(name, 0x1234, 0x5000)).Status);
            Assert.Equal(SymbolLookupStatus.InvalidName, (await store.FindBreakpadAsync(name, "ABCDEF0")).Status);
        }
        Assert.Equal(SymbolLookupStatus.InvalidName, store.FindBreakpad("ok.pdb", "../../x").Status);
        Assert.Equal(SymbolLookupStatus.InvalidName, store.FindPdb(null!, SampleGuid, 1).Status);
        Assert.Equal(0, server.RequestCount);
        Assert.Equal(0, store.Client.RequestCount);
        Assert.Empty(FilesUnder(cache));
    }

    [Fact]
    public async Task TooLarge_ByContentLength_OrByCounting_KeepsNothing()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("huge.pdb", SampleGuid, 1);
        server.Put(key, RandomBytes(50_000, 9));
        string cache = Temp("cache");
        var limited = Offline() with { MaxFileBytes = 10_000 };

        using (var client = new SymbolServerClient(limited))
            Assert.Equal(SymbolDownloadStatus.TooLarge, (await client.DownloadAsync(server.SymbolsUrl, key, cache)).Status);

        server.OmitContentLength = true;
        using (var client = new SymbolServerClient(limited))
        {
            var result = await client.DownloadAsync(server.SymbolsUrl, key, cache);
            Assert.Equal(SymbolDownloadStatus.TooLarge, result.Status);
            Assert.Equal(SymbolDownloadStatus.TooLarge, (await client.DownloadAsync(server.SymbolsUrl, key, cache)).Status);
        }
        Assert.Equal(2, server.RequestCount);
        Assert.Empty(FilesUnder(cache));

        // Without Content-Length and within the limit: fine.
        using (var client = new SymbolServerClient(Offline()))
            Assert.Equal(SymbolDownloadStatus.Downloaded, (await client.DownloadAsync(server.SymbolsUrl, key, cache)).Status);
    }

    [Fact]
    public async Task CompressedFile_IsRecordedAsNotSupported()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var key = SymbolKey.ForPdb("packed.pdb", SampleGuid, 1);
        server.PutText(key, "packed.pd_", "MSCF");
        string cache = Temp("cache");

        using (var plain = new SymbolServerClient(Offline()))
            Assert.Equal(SymbolDownloadStatus.NotFound, (await plain.DownloadAsync(server.SymbolsUrl, key, cache)).Status);

        using var probing = new SymbolServerClient(Offline() with { ProbeCompressed = true });
        var result = await probing.DownloadAsync(server.SymbolsUrl, key, cache);
        Assert.Equal(SymbolDownloadStatus.Compressed, result.Status);
        Assert.Contains("packed.pd_", result.Message);
        Assert.Empty(FilesUnder(cache));
    }

    [Fact]
    public async Task ServerError_IsAFailure_WithANote()
    {
        await using var server = new TinyServer(Temp("srvroot")) { FailWith = 500 };
        var key = SymbolKey.ForPdb("err.pdb", SampleGuid, 1);
        using var store = Store($"srv*{server.SymbolsUrl}", Temp("cache"));
        var result = await store.FindAsync(key);
        Assert.False(result.Found);
        Assert.Contains(result.Notes, n => n.Contains("Failed", StringComparison.Ordinal) && n.Contains("500", StringComparison.Ordinal));
        Assert.False(store.Client.IsRemembered(server.SymbolsUrl, key));
    }

    [Fact]
    public async Task LocalCopies_ComeBeforeTheServer()
    {
        await using var server = new TinyServer(Temp("srvroot"));
        var (_, pdb, guid, age, expected) = WinePdbs().First();
        server.Put(SymbolKey.ForPdb(pdb, guid, age), RandomBytes(10, 10));
        using var store = Store($"srv*{Temp("cache")}*{server.SymbolsUrl};{WineSymbols}", Temp("s"));
        Assert.Equal(expected, store.FindPdb(pdb, guid, age).Path);
        Assert.Equal(0, server.RequestCount);
    }

    [Fact]
    public void Url_EscapesEachSegment()
    {
        var key = SymbolKey.ForPdb("a b#c.pdb", SampleGuid, 1);
        Assert.Equal("http://h/s/a%20b%23c.pdb/CA2AF7B90C4748574C4C44205044422E1/a%20b%23c.pdb", SymbolServerClient.UrlOf("http://h/s/", key));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    // ================================================================ a tiny HTTP/1.1 server on 127.0.0.1

    /// <summary>
    /// Serves files under <c>root</c> (the SymSrv store is <c>root/symbols</c>); one request per connection
    /// (Connection: close); counts requests. Can stall before the headers or in the middle of a body,
    /// answer every request with an error status, and leave Content-Length out.
    /// </summary>
    internal sealed class TinyServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly ConcurrentQueue<string> _requests = new();
        private readonly Task _accepting;
        private readonly string _root;

        public bool StallBeforeHeaders { get; set; }
        public int? StallAfterBytes { get; set; }
        public bool OmitContentLength { get; set; }
        public int? FailWith { get; set; }

        public string BaseUrl { get; }
        public string SymbolsUrl => BaseUrl + "/symbols";
        public int RequestCount => _requests.Count;
        public string[] Requests => _requests.ToArray();
        public int CountOf(string suffix) => _requests.Count(r => r.EndsWith(suffix, StringComparison.Ordinal));

        public TinyServer(string root)
        {
            _root = root;
            _listener.Start();
            BaseUrl = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";
            _accepting = AcceptLoop();
        }

        public void Put(SymbolKey key, byte[] content)
        {
            string path = Path.Combine(_root, "symbols", key.Name, key.Id, key.FileName);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, content);
        }

        public void PutText(SymbolKey key, string fileName, string text)
        {
            string path = Path.Combine(_root, "symbols", key.Name, key.Id, fileName);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, text);
        }

        private async Task AcceptLoop()
        {
            while (!_stop.IsCancellationRequested)
            {
                TcpClient client;
                try
                {
                    client = await _listener.AcceptTcpClientAsync(_stop.Token);
                }
                catch (Exception) when (_stop.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException)
                {
                    return;
                }
                _ = Task.Run(() => Handle(client));
            }
        }

        private async Task Handle(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    string? target = await ReadRequestTarget(stream);
                    if (target is null)
                        return;
                    _requests.Enqueue(target);
                    if (StallBeforeHeaders)
                    {
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                        return;
                    }
                    if (FailWith is { } status)
                    {
                        await Write(stream, $"HTTP/1.1 {status} Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    string? file = MapToFile(target);
                    if (file is null || !File.Exists(file))
                    {
                        await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    byte[] body = await File.ReadAllBytesAsync(file);
                    string head = OmitContentLength
                        ? "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                        : $"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
                    await Write(stream, head);
                    int limit = StallAfterBytes ?? body.Length;
                    for (int offset = 0; offset < Math.Min(limit, body.Length); offset += 16 * 1024)
                    {
                        int n = Math.Min(16 * 1024, Math.Min(limit, body.Length) - offset);
                        await stream.WriteAsync(body.AsMemory(offset, n), _stop.Token);
                        await stream.FlushAsync(_stop.Token);
                    }
                    if (StallAfterBytes is not null)
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                }
            }
        }

        private string? MapToFile(string target)
        {
            string[] segments = target.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
            if (segments.Length == 0 || segments.Any(s => s is "." or ".." || s.Contains('/') || s.Contains('\\')))
                return null;
            return Path.Combine([_root, .. segments]);
        }

        private async Task<string?> ReadRequestTarget(NetworkStream stream)
        {
            var head = new StringBuilder();
            var buffer = new byte[1];
            while (head.Length < 16 * 1024)
            {
                int n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                    return null;
                head.Append((char)buffer[0]);
                if (head.Length >= 4 && head.ToString(head.Length - 4, 4) == "\r\n\r\n")
                    break;
            }
            string firstLine = head.ToString().Split("\r\n")[0];
            string[] parts = firstLine.Split(' ');
            return parts.Length >= 2 && parts[0] == "GET" ? parts[1] : null;
        }

        private async Task Write(NetworkStream stream, string text)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(text);
            await stream.WriteAsync(bytes, _stop.Token);
            await stream.FlushAsync(_stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            try { await _accepting; } catch (Exception) { }
            _stop.Dispose();
        }
    }
}

/// <summary>A fact that runs only on Linux (Windows paths in a symbol path are real paths on Windows).</summary>
public sealed class SkippableUnlessLinuxFactAttribute : FactAttribute
{
    public SkippableUnlessLinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "Linux only.";
    }
}
