using DumpShell.Symbols;
using Xunit;

namespace DumpShell.Tests.Engine;

/// <summary>
/// Symbol path parsing (WinDbg / dbghelp syntax), with the examples of the debugger documentation
/// ("Symbol path for Windows debuggers", "Using SymSrv", ".symfix").
/// </summary>
public class SymbolPathTests
{
    private const string Msdl = "https://msdl.microsoft.com/download/symbols";

    [Fact]
    public void PlainFolders_AreSplitOnSemicolons()
    {
        var path = SymbolPath.Parse(@"C:\Dir1;C:\Dir2\DirA;C:\Dir2\DirB");
        Assert.Equal(
            [new SymbolFolderElement(@"C:\Dir1"), new SymbolFolderElement(@"C:\Dir2\DirA"), new SymbolFolderElement(@"C:\Dir2\DirB")],
            path.Elements);
    }

    [Fact]
    public void Srv_WithDownstreamStore()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse($@"srv*c:\mysymbols*{Msdl}").Elements));
        Assert.Equal("srv", server.Keyword);
        Assert.Null(server.ServerDll);
        Assert.Equal(Msdl, server.Upstream);
        Assert.Equal([@"c:\mysymbols"], server.Downstream);
        Assert.True(server.IsHttp);
    }

    [Fact]
    public void Srv_WithoutDownstreamStore_UsesTheDefaultCache()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse($"SRV*{Msdl}").Elements));
        Assert.Equal("SRV", server.Keyword);
        Assert.Equal(Msdl, server.Upstream);
        Assert.Empty(server.Downstream);
    }

    [Fact]
    public void Srv_DoubleStar_NamesTheDefaultDownstreamStore()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse($"srv**{Msdl}").Elements));
        Assert.Equal([""], server.Downstream);
        Assert.Equal(Msdl, server.Upstream);
    }

    [Fact]
    public void Srv_Alone_IsMicrosoftsServer()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse("srv*").Elements));
        Assert.Equal(SymbolPath.MicrosoftSymbolServer, server.Upstream);
        Assert.Empty(server.Downstream);
        Assert.Equal("srv*", server.ToString());
    }

    [Fact]
    public void Srv_CascadingDownstreamStores_NearestFirst()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(
            SymbolPath.Parse($@"srv*c:\localcache*\\server\share*{Msdl}").Elements));
        Assert.Equal([@"c:\localcache", @"\\server\share"], server.Downstream);
        Assert.Equal(Msdl, server.Upstream);
    }

    [Fact]
    public void Srv_ToAShare_IsALocalUpstreamStore()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse(@"srv*\\Server\Share").Elements));
        Assert.Equal(@"\\Server\Share", server.Upstream);
        Assert.False(server.IsHttp);
        Assert.Empty(server.Downstream);
    }

    [Fact]
    public void Symsrv_NamesTheServerDll()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(
            SymbolPath.Parse(@"symsrv*symsrv.dll*c:\localcache*\\server\share").Elements));
        Assert.Equal("symsrv", server.Keyword);
        Assert.Equal("symsrv.dll", server.ServerDll);
        Assert.Equal([@"c:\localcache"], server.Downstream);
        Assert.Equal(@"\\server\share", server.Upstream);
    }

    [Fact]
    public void CacheStar_AndMixedElements_FromTheDebuggerDocumentation()
    {
        const string text = $@"\\someshare\that\cachestar\ignores;srv*c:\mysymbols*{Msdl};cache*c:\mysymbols;\\anothershare\that\gets\cached";
        var elements = SymbolPath.Parse(text).Elements;
        Assert.Equal(4, elements.Count);
        Assert.Equal(new SymbolFolderElement(@"\\someshare\that\cachestar\ignores"), elements[0]);
        Assert.IsType<SymbolServerElement>(elements[1]);
        var cache = Assert.IsType<SymbolCacheElement>(elements[2]);
        Assert.Equal(@"c:\mysymbols", cache.Directory);
        Assert.False(cache.IsDefault);
        Assert.Equal(new SymbolFolderElement(@"\\anothershare\that\gets\cached"), elements[3]);
    }

    [Fact]
    public void SymfixExpansion_CacheThenServer()
    {
        var elements = SymbolPath.Parse($@"cache*c:\myCache;SRV*{Msdl}").Elements;
        Assert.Equal(new SymbolCacheElement("cache", @"c:\myCache"), elements[0]);
        var server = Assert.IsType<SymbolServerElement>(elements[1]);
        Assert.Empty(server.Downstream);
    }

    [Fact]
    public void CacheStar_WithoutFolder_IsTheDefaultCache()
    {
        var cache = Assert.IsType<SymbolCacheElement>(Assert.Single(SymbolPath.Parse("CACHE*").Elements));
        Assert.True(cache.IsDefault);
        Assert.Equal("CACHE*", cache.ToString());
    }

    [Fact]
    public void BareUrl_IsAServerWithTheDefaultCache()
    {
        var server = Assert.IsType<SymbolServerElement>(Assert.Single(SymbolPath.Parse("http://127.0.0.1:1/symbols").Elements));
        Assert.Equal("", server.Keyword);
        Assert.Equal("http://127.0.0.1:1/symbols", server.Upstream);
        Assert.Equal("http://127.0.0.1:1/symbols", server.ToString());
    }

    [Fact]
    public void EmptyElementsAndWhitespace_AreDropped()
    {
        var path = SymbolPath.Parse("  ;;/a ; ;/b;  ");
        Assert.Equal([new SymbolFolderElement("/a"), new SymbolFolderElement("/b")], path.Elements);
        Assert.Equal("/a;/b", path.ToString());
        Assert.True(SymbolPath.Parse(null).IsEmpty);
        Assert.True(SymbolPath.Parse("   ").IsEmpty);
        Assert.Equal("", SymbolPath.Parse(";").ToString());
    }

    [Theory]
    [InlineData(@"C:\Dir1;C:\Dir2\DirA;C:\Dir2\DirB")]
    [InlineData($@"srv*c:\mysymbols*{Msdl}")]
    [InlineData($"SRV*{Msdl}")]
    [InlineData($"srv**{Msdl}")]
    [InlineData("srv*")]
    [InlineData("Srv*")]
    [InlineData($@"srv*c:\localcache*\\server\share*{Msdl}")]
    [InlineData(@"symsrv*symsrv.dll*c:\localcache*\\server\share")]
    [InlineData(@"symsrv*symsrv.dll*\\server\share")]
    [InlineData("symsrv*symsrv.dll*")]
    [InlineData("symsrv*symsrv.dll")]
    [InlineData($@"\\someshare\that\cachestar\ignores;srv*c:\mysymbols*{Msdl};cache*c:\mysymbols;\\anothershare\that\gets\cached")]
    [InlineData($@"cache*c:\myCache;SRV*{Msdl}")]
    [InlineData("cache*;srv*http://127.0.0.1:8080/x")]
    [InlineData("/home/me/symbols;srv*/var/cache/sym*https://example.invalid/s")]
    [InlineData("folder with spaces;srv*c:\\a b*http://h/p")]
    public void ToString_RoundTrips(string text)
    {
        var path = SymbolPath.Parse(text);
        Assert.Equal(text, path.ToString());
        Assert.Equal(path.Elements, SymbolPath.Parse(path.ToString()).Elements);
    }

    [Fact]
    public void Keywords_AreCaseInsensitive_AndKeptAsWritten()
    {
        var elements = SymbolPath.Parse($"SrV*{Msdl};SYMSRV*symsrv.dll*/x;Cache*/c").Elements;
        Assert.Equal("SrV", Assert.IsType<SymbolServerElement>(elements[0]).Keyword);
        Assert.Equal("SYMSRV", Assert.IsType<SymbolServerElement>(elements[1]).Keyword);
        Assert.Equal("Cache", Assert.IsType<SymbolCacheElement>(elements[2]).Keyword);
    }

    [Fact]
    public void UnknownStarElement_IsAFolder()
    {
        Assert.Equal(new SymbolFolderElement("foo*bar"), Assert.Single(SymbolPath.Parse("foo*bar").Elements));
        Assert.Equal(new SymbolFolderElement("*x"), Assert.Single(SymbolPath.Parse("*x").Elements));
    }

    [Fact]
    public void Environment_AltPathComesFirst()
    {
        var vars = new Dictionary<string, string>
        {
            ["_NT_SYMBOL_PATH"] = $"srv*/cache*{Msdl}",
            ["_NT_ALT_SYMBOL_PATH"] = "/alt/one;/alt/two",
        };
        var path = SymbolPath.FromEnvironment(n => vars.GetValueOrDefault(n));
        Assert.Equal($"/alt/one;/alt/two;srv*/cache*{Msdl}", path.ToString());
        Assert.IsType<SymbolFolderElement>(path.Elements[0]);
        Assert.IsType<SymbolServerElement>(path.Elements[2]);
    }

    [Fact]
    public void Environment_EitherVariableAlone_AndNeither()
    {
        Assert.Equal("/a", SymbolPath.FromEnvironment(n => n == "_NT_SYMBOL_PATH" ? "/a" : null).ToString());
        Assert.Equal("/b", SymbolPath.FromEnvironment(n => n == "_NT_ALT_SYMBOL_PATH" ? "/b" : null).ToString());
        Assert.True(SymbolPath.FromEnvironment(_ => null).IsEmpty);
        Assert.True(SymbolPath.FromEnvironment(_ => "").IsEmpty);
    }

    [Fact]
    public void DefaultCache_IsPerUser_AndOverridable()
    {
        string local = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData);
        string dflt = SymbolPath.DefaultCacheDirectoryFrom(_ => null);
        if (!string.IsNullOrEmpty(local))
            Assert.Equal(Path.Combine(local, "DumpShell", "symbols"), dflt);
        Assert.EndsWith(Path.Combine("DumpShell", "symbols"), dflt);

        string overridden = Path.Combine(Path.GetTempPath(), "ds-cache-override");
        Assert.Equal(overridden, SymbolPath.DefaultCacheDirectoryFrom(n => n == SymbolPath.CacheDirectoryVariable ? overridden : null));
    }

    [Fact]
    public void Combine_KeepsOrder()
    {
        var combined = SymbolPath.Combine(SymbolPath.Parse("/a;/b"), SymbolPath.Empty, SymbolPath.Parse("srv*/c*http://127.0.0.1/x"));
        Assert.Equal("/a;/b;srv*/c*http://127.0.0.1/x", combined.ToString());
    }

    [Fact]
    public void Constructors_MakeTheUsualElements()
    {
        Assert.Equal($@"srv*c:\mysymbols*{Msdl}", new SymbolServerElement(Msdl, @"c:\mysymbols").ToString());
        Assert.Equal("cache*/x", new SymbolCacheElement("/x").ToString());
    }
}
