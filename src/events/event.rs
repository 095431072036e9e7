use super::commerce::*;
use super::value::Properties;

/// Every event an app can record.
///
/// Names and property keys follow the Segment E-commerce v2 spec, so backend teams
/// recognise them. Each variant takes free-form `properties` besides its typed fields;
/// a free-form key may not repeat a typed field that is set.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "ffi", derive(uniffi::Enum))]
pub enum Event {
    ProductsSearched {
        query: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductListViewed {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        list_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        category: Option<String>,
        products: Vec<Product>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductClicked {
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductViewed {
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductAdded {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        cart_id: Option<String>,
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductRemoved {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        cart_id: Option<String>,
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CartViewed {
        cart: Cart,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CheckoutStarted {
        order: Order,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CheckoutStepViewed {
        step: CheckoutStep,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CheckoutStepCompleted {
        step: CheckoutStep,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    PaymentInfoEntered {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        order_id: Option<String>,
        step: CheckoutStep,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    OrderCompleted {
        order: Order,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    OrderUpdated {
        order: Order,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    OrderRefunded {
        order: Order,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    OrderCancelled {
        order: Order,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CouponEntered {
        coupon: Coupon,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CouponApplied {
        coupon: Coupon,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CouponDenied {
        coupon: Coupon,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CouponRemoved {
        coupon: Coupon,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    PromotionViewed {
        promotion: Promotion,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    PromotionClicked {
        promotion: Promotion,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductAddedToWishlist {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_name: Option<String>,
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductRemovedFromWishlist {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_name: Option<String>,
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    WishlistProductAddedToCart {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        wishlist_name: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        cart_id: Option<String>,
        product: Product,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductShared {
        product: Product,
        share: Share,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    CartShared {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        cart_id: Option<String>,
        products: Vec<Product>,
        share: Share,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ProductReviewed {
        product_id: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        review_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        review_body: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        rating: Option<f64>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    /// A screen the user saw; recorded as a `screen` call, not a `track`.
    Screen {
        name: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ApplicationOpened {
        from_background: bool,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        url: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    ApplicationBackgrounded {
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    PushOpened {
        message_id: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        campaign_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    DeepLinkOpened {
        url: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        message_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        campaign_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    InAppMessageShown {
        message_id: String,
        campaign_id: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    InAppMessageClicked {
        message_id: String,
        campaign_id: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        button_id: Option<String>,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    InAppMessageDismissed {
        message_id: String,
        campaign_id: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
    /// Anything outside the vocabulary. Its name may not be one of the typed names.
    Custom {
        name: String,
        #[cfg_attr(feature = "ffi", uniffi(default))]
        properties: Properties,
    },
}

/// The names of the typed events; a custom event may not take one of them.
pub const TYPED_EVENT_NAMES: &[&str] = &[
    "Products Searched",
    "Product List Viewed",
    "Product Clicked",
    "Product Viewed",
    "Product Added",
    "Product Removed",
    "Cart Viewed",
    "Checkout Started",
    "Checkout Step Viewed",
    "Checkout Step Completed",
    "Payment Info Entered",
    "Order Completed",
    "Order Updated",
    "Order Refunded",
    "Order Cancelled",
    "Coupon Entered",
    "Coupon Applied",
    "Coupon Denied",
    "Coupon Removed",
    "Promotion Viewed",
    "Promotion Clicked",
    "Product Added to Wishlist",
    "Product Removed from Wishlist",
    "Wishlist Product Added to Cart",
    "Product Shared",
    "Cart Shared",
    "Product Reviewed",
    "Application Opened",
    "Application Backgrounded",
    "Push Opened",
    "Deep Link Opened",
    "In-App Message Shown",
    "In-App Message Clicked",
    "In-App Message Dismissed",
];

impl Event {
    /// The event's name on the wire: the spec name, the screen name, or the custom name.
    pub fn name(&self) -> &str {
        use Event::*;
        match self {
            ProductsSearched { .. } => "Products Searched",
            ProductListViewed { .. } => "Product List Viewed",
            ProductClicked { .. } => "Product Clicked",
            ProductViewed { .. } => "Product Viewed",
            ProductAdded { .. } => "Product Added",
            ProductRemoved { .. } => "Product Removed",
            CartViewed { .. } => "Cart Viewed",
            CheckoutStarted { .. } => "Checkout Started",
            CheckoutStepViewed { .. } => "Checkout Step Viewed",
            CheckoutStepCompleted { .. } => "Checkout Step Completed",
            PaymentInfoEntered { .. } => "Payment Info Entered",
            OrderCompleted { .. } => "Order Completed",
            OrderUpdated { .. } => "Order Updated",
            OrderRefunded { .. } => "Order Refunded",
            OrderCancelled { .. } => "Order Cancelled",
            CouponEntered { .. } => "Coupon Entered",
            CouponApplied { .. } => "Coupon Applied",
            CouponDenied { .. } => "Coupon Denied",
            CouponRemoved { .. } => "Coupon Removed",
            PromotionViewed { .. } => "Promotion Viewed",
            PromotionClicked { .. } => "Promotion Clicked",
            ProductAddedToWishlist { .. } => "Product Added to Wishlist",
            ProductRemovedFromWishlist { .. } => "Product Removed from Wishlist",
            WishlistProductAddedToCart { .. } => "Wishlist Product Added to Cart",
            ProductShared { .. } => "Product Shared",
            CartShared { .. } => "Cart Shared",
            ProductReviewed { .. } => "Product Reviewed",
            ApplicationOpened { .. } => "Application Opened",
            ApplicationBackgrounded { .. } => "Application Backgrounded",
            PushOpened { .. } => "Push Opened",
            DeepLinkOpened { .. } => "Deep Link Opened",
            InAppMessageShown { .. } => "In-App Message Shown",
            InAppMessageClicked { .. } => "In-App Message Clicked",
            InAppMessageDismissed { .. } => "In-App Message Dismissed",
            Screen { name, .. } | Custom { name, .. } => name,
        }
    }

    /// The free-form properties the app attached.
    pub fn extra_properties(&self) -> &Properties {
        use Event::*;
        match self {
            ProductsSearched { properties, .. }
            | ProductListViewed { properties, .. }
            | ProductClicked { properties, .. }
            | ProductViewed { properties, .. }
            | ProductAdded { properties, .. }
            | ProductRemoved { properties, .. }
            | CartViewed { properties, .. }
            | CheckoutStarted { properties, .. }
            | CheckoutStepViewed { properties, .. }
            | CheckoutStepCompleted { properties, .. }
            | PaymentInfoEntered { properties, .. }
            | OrderCompleted { properties, .. }
            | OrderUpdated { properties, .. }
            | OrderRefunded { properties, .. }
            | OrderCancelled { properties, .. }
            | CouponEntered { properties, .. }
            | CouponApplied { properties, .. }
            | CouponDenied { properties, .. }
            | CouponRemoved { properties, .. }
            | PromotionViewed { properties, .. }
            | PromotionClicked { properties, .. }
            | ProductAddedToWishlist { properties, .. }
            | ProductRemovedFromWishlist { properties, .. }
            | WishlistProductAddedToCart { properties, .. }
            | ProductShared { properties, .. }
            | CartShared { properties, .. }
            | ProductReviewed { properties, .. }
            | Screen { properties, .. }
            | ApplicationOpened { properties, .. }
            | ApplicationBackgrounded { properties }
            | PushOpened { properties, .. }
            | DeepLinkOpened { properties, .. }
            | InAppMessageShown { properties, .. }
            | InAppMessageClicked { properties, .. }
            | InAppMessageDismissed { properties, .. }
            | Custom { properties, .. } => properties,
        }
    }
}
